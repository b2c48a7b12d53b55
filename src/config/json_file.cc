#include "config/json_file.h"

#include <algorithm>

namespace dlnest {

namespace {

/// "L:C" of the 1-based byte position `byte` in `text`, then a newline, the line's text and a
/// caret under the column, like a compiler's diagnostic.
std::string locate(const std::string& text, size_t byte) {
  const size_t offset = std::min(text.size(), byte > 0 ? byte - 1 : 0);
  const size_t line_start = text.rfind('\n', offset > 0 ? offset - 1 : 0);
  const size_t begin = (line_start == std::string::npos || offset == 0) ? 0 : line_start + 1;
  const size_t end = std::min(text.find('\n', begin), text.size());
  const size_t line = 1 + std::count(text.begin(), text.begin() + begin, '\n');
  const size_t column = offset - begin + 1;
  return std::to_string(line) + ":" + std::to_string(column) + "\n" + text.substr(begin, end - begin) +
         "\n" + std::string(column - 1, ' ') + "^";
}

/// nlohmann's message without its "[json.exception...] parse error at line L, column C: " head.
std::string parse_detail(const std::string& what) {
  const auto column = what.find("column ");
  const auto colon = column == std::string::npos ? what.find(": ") : what.find(": ", column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

}  // namespace

Result<Json> read_json_object(Env* env, const std::string& file) {
  auto text = env->read_file(file);
  if (!text.is_ok()) return text.status();
  try {
    Json value = Json::parse(*text);
    if (!value.is_object()) {
      return Status::invalid_argument(file + ": expected a JSON object at the top level, got " +
                                      value.type_name());
    }
    return value;
  } catch (const Json::parse_error& e) {
    const std::string where = locate(*text, e.byte);
    const size_t newline = where.find('\n');
    return Status::invalid_argument(file + ":" + where.substr(0, newline) +
                                    ": JSON syntax error: " + parse_detail(e.what()) +
                                    where.substr(newline));
  }
}

}  // namespace dlnest
