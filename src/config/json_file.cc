#include "config/json_file.h"

#include <algorithm>

#include "env/regular_file.h"

namespace dlnest {

namespace {

/// "L:C" of the 1-based byte position `byte` in `text`.
std::string locate(const std::string& text, size_t byte) {
  const size_t offset = std::min(text.size(), byte > 0 ? byte - 1 : 0);
  const size_t line_start = text.rfind('\n', offset > 0 ? offset - 1 : 0);
  const size_t begin = (line_start == std::string::npos || offset == 0) ? 0 : line_start + 1;
  const size_t line = 1 + std::count(text.begin(), text.begin() + begin, '\n');
  return std::to_string(line) + ":" + std::to_string(offset - begin + 1);
}

/// nlohmann's message without its "[json.exception...] parse error at line L, column C: " head
/// and without its "; last read: '...'" tail, which quotes the file's content.
std::string parse_detail(const std::string& what) {
  const auto column = what.find("column ");
  const auto colon = column == std::string::npos ? what.find(": ") : what.find(": ", column);
  const std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
  return detail.substr(0, detail.find("; last read:"));
}

}  // namespace

Result<Json> read_json_object(Env* env, const std::string& file, const std::string& within) {
  auto text = env->read_bounded_file(file, kMaxConfigFileBytes, within);
  if (!text.is_ok()) return text.status();
  try {
    Json value = Json::parse(*text);
    if (!value.is_object()) {
      return Status::invalid_argument(file + ": expected a JSON object at the top level, got " +
                                      value.type_name());
    }
    return value;
  } catch (const Json::parse_error& e) {
    return Status::invalid_argument(file + ":" + locate(*text, e.byte) +
                                    ": JSON syntax error: " + parse_detail(e.what()));
  }
}

}  // namespace dlnest
