#include "server/request_params.h"

#include <cerrno>
#include <cstdlib>

namespace dlnest {

Status missing_argument(const std::string& name) {
  return Status::invalid_argument("HTTP 400: Bad Request (Missing argument " + name + ")");
}

Result<int64_t> parse_int_param(const std::string& name, const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  size_t start = t.find_first_not_of(" \t");
  t = start == std::string::npos ? "" : t.substr(start);
  errno = 0;
  char* end = nullptr;
  const long long v = t.empty() ? 0 : std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || end == nullptr || *end != '\0' || errno == ERANGE) {
    std::string shown = text.size() > 64 ? text.substr(0, 64) + "..." : text;
    return Status::invalid_argument(name + ": expected an integer, got '" + shown + "'");
  }
  return static_cast<int64_t>(v);
}

Status RequestParams::add_json_body(const std::string& body) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Status::invalid_argument("request body is not valid JSON");
  if (!json.is_object()) return Status::invalid_argument("request body must be a JSON object");
  auto text_of = [](const std::string& key, const Json& v) -> Result<std::string> {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
    if (v.is_number_integer()) return v.dump();
    if (v.is_null()) return std::string();
    return Status::invalid_argument(key + ": expected a string, number or boolean, got " +
                                    std::string(v.type_name()));
  };
  for (const auto& [key, value] : json.items()) {
    if (value.is_array()) {
      for (const Json& item : value) {
        DLNEST_ASSIGN_OR_RETURN(std::string text, text_of(key, item));
        values_.emplace(key, std::move(text));
      }
    } else {
      DLNEST_ASSIGN_OR_RETURN(std::string text, text_of(key, value));
      values_.emplace(key, std::move(text));
    }
  }
  return Status::ok();
}

Result<std::string> RequestParams::required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return missing_argument(name);
  return it->second;
}

std::string RequestParams::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<bool> RequestParams::get_bool(const std::string& name, bool fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  if (v == "True" || v == "true" || v == "1") return true;
  if (v == "False" || v == "false" || v == "0") return false;
  std::string shown = v.size() > 64 ? v.substr(0, 64) + "..." : v;
  return Status::invalid_argument(name + ": expected True or False, got '" + shown + "'");
}

Result<int64_t> RequestParams::get_int(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  return parse_int_param(name, it->second);
}

Result<int64_t> RequestParams::required_int(const std::string& name) const {
  DLNEST_ASSIGN_OR_RETURN(std::string text, required(name));
  return parse_int_param(name, text);
}

Result<std::vector<int64_t>> RequestParams::get_int_list(const std::string& name) const {
  std::vector<int64_t> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    const std::string& v = it->second;
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty() || comma != std::string::npos) {
        DLNEST_ASSIGN_OR_RETURN(int64_t n, parse_int_param(name, item));
        out.push_back(n);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace dlnest
