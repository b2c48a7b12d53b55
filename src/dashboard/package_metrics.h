// Reading what a training writes into its save package for the dashboard: metrics.jsonl by byte
// offsets (so that a page polling a running task gets only the new records) and progress.json.
// Both are read as every package file is (env/regular_file.h): a FIFO or a link put in their
// place is refused at once, reads are capped, and errors never quote the files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dlnest/config.h"
#include "dlnest/status.h"
#include "package/progress_file.h"  // kProgressFile

namespace dlnest {

/// The most bytes of metrics.jsonl one request reads (and the default).
inline constexpr size_t kMaxMetricsBytes = size_t{4} << 20;
inline constexpr size_t kDefaultMetricsBytes = size_t{512} << 10;
/// The most bytes of progress.json.
inline constexpr size_t kMaxProgressBytes = size_t{64} << 10;

/// Parsed records of `<package_dir>/metrics.jsonl` from byte `offset`, at most `max_bytes` of
/// whole lines: {"offset", "next_offset", "size", "records": [...], "skipped"}. A record keeps
/// kind ("step"/"epoch"), step, epoch, time and the numeric values (null for non-finite ones);
/// lines that are not such records are counted in "skipped". A line longer than `max_bytes` is
/// skipped whole. A missing file reads as no records (nothing written yet).
Result<Json> read_metrics(const std::string& package_dir, int64_t offset, size_t max_bytes);

/// `<package_dir>/progress.json` as a JSON object, or null when the package has none.
Result<Json> read_progress(const std::string& package_dir);

}  // namespace dlnest
