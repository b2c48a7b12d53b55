#include "config/json_file.h"

namespace dlnest {

namespace {

std::string line_and_column(const std::string& text, size_t byte) {
  size_t line = 1;
  size_t column = 1;
  const size_t end = std::min(text.size(), byte > 0 ? byte - 1 : 0);
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
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
    return Status::invalid_argument(file + ":" + line_and_column(*text, e.byte) +
                                    ": JSON syntax error: " + parse_detail(e.what()));
  }
}

}  // namespace dlnest
