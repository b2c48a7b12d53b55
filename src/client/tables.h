// Aligned text tables of the server's task and device info, for `dlnest tasks`, `dlnest devices`
// and the shell's showTask, history and showDevices. Pure functions of the reply JSON.
#pragma once

#include <string>
#include <vector>

#include "dlnest/config.h"  // Json

namespace dlnest {

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

/// "45s", "3m05s", "2h07m", "3d04h"; "-" for a negative duration.
std::string format_duration(double seconds);

/// One row per task info entry (docs/api.md): ID, TYPE, STATUS, PROGRESS, DEVICES, ELAPSED,
/// DESCRIPTION. PROGRESS is the entry's "progress" (format_progress_cell: "e 3/10 45% 12.3it/s
/// ETA 4:10", "build 43%"; "-" without one). ELAPSED runs from the start to the end, or to `now`
/// (Unix seconds) while running. An empty list reads "no tasks".
std::string format_task_table(const Json& tasks, double now);

/// One row per device info entry: ID, TYPE, MEMORY (free/total MB), UTIL, TASKS, STATE.
std::string format_device_table(const Json& devices);

}  // namespace dlnest
