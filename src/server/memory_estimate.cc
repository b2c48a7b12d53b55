#include "server/memory_estimate.h"

#include <algorithm>
#include <charconv>
#include <system_error>

#include "project/source_stage.h"  // Digest

namespace dlnest {
namespace {

/// The args keys that differ between packages of one config.
constexpr const char* kPerPackageKeys[] = {"root_file_path", "seed"};

Status bad_memory(const std::string& text) {
  return Status::invalid_argument(
      "memory_consumption must be a positive number of MB, -1 (the default) or auto; got \"" +
      text + "\"");
}

/// The margin as a factor, "1.2".
std::string margin_text() {
  std::string text = std::to_string(kAutoMemoryMarginPercent / 100);
  const int64_t rest = kAutoMemoryMarginPercent % 100;
  if (rest % 10 == 0) {
    if (rest != 0) text += "." + std::to_string(rest / 10);
  } else {
    text += (rest < 10 ? ".0" : ".") + std::to_string(rest);
  }
  return text;
}

}  // namespace

Result<MemoryRequest> parse_memory_request(const std::string& text) {
  MemoryRequest request;
  if (text == kAutoMemory) {
    request.automatic = true;
    return request;
  }
  const char* end = text.data() + text.size();
  const std::from_chars_result parsed = std::from_chars(text.data(), end, request.mb);
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != end) return bad_memory(text);
  if (request.mb == 0 || request.mb < kDefaultMemoryMb) return bad_memory(text);
  return request;
}

std::string config_digest(TaskType type, const Json& args) {
  Json kept = args;
  if (kept.is_object()) {
    for (const char* key : kPerPackageKeys) kept.erase(key);
  }
  return Digest().add(task_type_name(type)).add(kept.dump()).hex();
}

int64_t auto_estimate_mb(int64_t peak_mb) {
  // In integers: ceil(peak x percent / (100 x step)) steps.
  const int64_t unit = 100 * kAutoMemoryStepMb;
  const int64_t steps =
      (std::max<int64_t>(peak_mb, 0) * kAutoMemoryMarginPercent + unit - 1) / unit;
  return std::max<int64_t>(1, steps) * kAutoMemoryStepMb;
}

MemoryChoice choose_memory(const MemoryRequest& request, const std::optional<TaskRecord>& last) {
  MemoryChoice choice;
  if (!request.automatic) {
    choice.memory_mb = request.mb;
    choice.source = request.mb == kDefaultMemoryMb ? "default" : "given";
    return choice;
  }
  if (!last || last->peak_memory_mb <= 0) {
    choice.source = "auto: no peak recorded for this project and config; the default";
    return choice;
  }
  choice.memory_mb = auto_estimate_mb(last->peak_memory_mb);
  choice.source = "auto: peak " + std::to_string(last->peak_memory_mb) + " MB of " + last->id +
                  " x" + margin_text() + ", rounded up to " + std::to_string(kAutoMemoryStepMb) +
                  " MB";
  return choice;
}

}  // namespace dlnest
