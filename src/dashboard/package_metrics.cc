#include "dashboard/package_metrics.h"

#include <cmath>

#include "dlnest/save_package.h"
#include "env/path.h"
#include "env/regular_file.h"
#include "server/task_output.h"

namespace dlnest {
namespace {

bool is_number(const Json& j) {
  return j.is_number() && std::isfinite(j.get<double>());
}

/// The record of one metrics.jsonl line, or null when it is not one.
Json parse_record(const std::string& line) {
  Json in = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!in.is_object()) return nullptr;
  const Json kind = in.value("kind", Json());
  if (kind != "step" && kind != "epoch") return nullptr;
  Json out = {{"kind", kind}};
  for (const char* field : {"step", "epoch", "time"}) {
    auto it = in.find(field);
    out[field] = it != in.end() && is_number(*it) ? *it : Json(nullptr);
  }
  Json values = Json::object();
  auto it = in.find("values");
  if (it != in.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      values[name] = is_number(value) ? value : Json(nullptr);
    }
  }
  out["values"] = std::move(values);
  return out;
}

}  // namespace

Result<Json> read_metrics(const std::string& package_dir, int64_t offset, size_t max_bytes) {
  const std::string file = path::join(package_dir, SavePackage::kMetricsFile);
  DLNEST_ASSIGN_OR_RETURN(OutputChunk chunk, read_output_file(file, offset, max_bytes));
  size_t used = chunk.text.rfind('\n');
  used = used == std::string::npos ? 0 : used + 1;
  int64_t skipped = 0;
  Json records = Json::array();
  if (used == 0 && chunk.text.size() >= max_bytes) {
    // A line longer than a whole read never ends inside one: skip what was read of it.
    used = chunk.text.size();
    ++skipped;
  }
  for (size_t begin = 0; begin < used && chunk.text[used - 1] == '\n';) {
    const size_t end = chunk.text.find('\n', begin);
    const std::string line = chunk.text.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty()) continue;
    Json record = parse_record(line);
    if (record.is_null()) {
      ++skipped;
    } else {
      records.push_back(std::move(record));
    }
  }
  return Json{{"offset", chunk.offset},
              {"next_offset", chunk.offset + static_cast<int64_t>(used)},
              {"size", chunk.size},
              {"records", std::move(records)},
              {"skipped", skipped}};
}

Result<Json> read_progress(const std::string& package_dir) {
  const std::string file = path::join(package_dir, kProgressFile);
  Result<std::string> text = read_regular_file(file, kMaxProgressBytes, SymlinkPolicy::kRefuse);
  if (!text.is_ok() && text.status().code() == Status::Code::kNotFound) return Json(nullptr);
  if (!text.is_ok()) return text.status();
  Json progress = Json::parse(text.value(), nullptr, /*allow_exceptions=*/false);
  if (!progress.is_object()) {
    return Status::failed_precondition(file + " is not a JSON object");
  }
  return progress;
}

}  // namespace dlnest
