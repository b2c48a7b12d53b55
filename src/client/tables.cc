#include "client/tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "package/progress_file.h"

namespace dlnest {

namespace {

std::string text_of(const Json& entry, const char* key) {
  if (!entry.is_object() || !entry.contains(key)) return "";
  const Json& value = entry[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  if (value.is_number_float()) return std::to_string(std::llround(value.get<double>()));
  return value.dump();
}

double number_of(const Json& entry, const char* key) {
  if (!entry.is_object() || !entry.contains(key) || !entry[key].is_number()) return 0;
  return entry[key].get<double>();
}

/// "CPU", "0", "0,1" or "-".
std::string device_list(const Json& devices) {
  if (!devices.is_array() || devices.empty()) return "-";
  std::string out;
  for (const Json& id : devices) {
    if (!out.empty()) out += ",";
    out += id.is_number_integer() && id.get<int>() == -1 ? "CPU" : id.dump();
  }
  return out;
}

std::string task_status(const Json& task) {
  std::string status = text_of(task, "status");
  const bool ended = status == "Failed" || status == "Killed";
  if (ended && task.contains("exit_code") && task["exit_code"].is_number_integer()) {
    status += " (exit " + std::to_string(task["exit_code"].get<int>()) + ")";
  }
  const double restarts = number_of(task, "restarts");
  if (restarts > 0) {
    status += " (restart " + std::to_string(std::llround(restarts)) + "/" +
              std::to_string(std::llround(number_of(task, "max_restarts"))) + ")";
  }
  return status;
}

std::string task_elapsed(const Json& task, double now) {
  const double start = number_of(task, "start_time");
  if (start <= 0) return "-";
  const double end = number_of(task, "end_time");
  return format_duration((end > 0 ? end : now) - start);
}

std::string device_tasks(const Json& device) {
  std::string out;
  if (device.contains("running_tasks") && device["running_tasks"].is_array()) {
    for (const Json& task : device["running_tasks"]) {
      out += (out.empty() ? "" : ",") + text_of(task, "ID");
    }
  } else if (number_of(device, "num_tasks") > 0) {
    out = text_of(device, "num_tasks");
  }
  return out.empty() ? "-" : out;
}

std::string device_state(const Json& device) {
  if (device.contains("is_break") && device["is_break"].is_boolean() && device["is_break"]) {
    const std::string error = text_of(device, "error");
    return error.empty() ? "broken" : "broken: " + error;
  }
  if (device.contains("allowed") && device["allowed"].is_boolean() && !device["allowed"]) {
    return "not allowed";
  }
  return "ok";
}

std::string device_memory(const Json& device) {
  if (!device.contains("total_memory")) return "-";
  return std::to_string(std::llround(number_of(device, "free_memory"))) + "/" +
         std::to_string(std::llround(number_of(device, "total_memory"))) + " MB";
}

std::string device_util(const Json& device) {
  if (!device.contains("gpu_util") || !device["gpu_util"].is_number()) return "-";
  return std::to_string(std::llround(device["gpu_util"].get<double>())) + "%";
}

}  // namespace

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  const auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  print(header);
  for (const auto& row : rows) print(row);
  return out;
}

std::string format_duration(double seconds) {
  if (seconds < 0) return "-";
  const long long s = static_cast<long long>(seconds);
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  }
  return buf;
}

std::string format_task_table(const Json& tasks, double now) {
  if (!tasks.is_array() || tasks.empty()) return "no tasks\n";
  std::vector<std::vector<std::string>> rows;
  for (const Json& task : tasks) {
    if (!task.is_object()) continue;
    rows.push_back({text_of(task, "ID"), text_of(task, "type"), task_status(task),
                    format_progress_cell(task.value("progress", Json())),
                    device_list(task.value("devices", Json::array())), task_elapsed(task, now),
                    text_of(task, "description")});
  }
  return format_table({"ID", "TYPE", "STATUS", "PROGRESS", "DEVICES", "ELAPSED", "DESCRIPTION"},
                      rows);
}

std::string format_device_table(const Json& devices) {
  if (!devices.is_array() || devices.empty()) return "no devices\n";
  std::vector<std::vector<std::string>> rows;
  for (const Json& device : devices) {
    if (!device.is_object()) continue;
    std::string type = text_of(device, "type");
    const std::string name = text_of(device, "name");
    if (!name.empty() && name != type) type += " " + name;
    rows.push_back({text_of(device, "ID"), type, device_memory(device), device_util(device),
                    device_tasks(device), device_state(device)});
  }
  return format_table({"ID", "TYPE", "MEMORY (FREE/TOTAL)", "UTIL", "TASKS", "STATE"}, rows);
}

}  // namespace dlnest
