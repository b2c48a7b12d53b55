// The parameters of one API request, from the query string, a form body or a JSON body, read
// with the rules of docs/api.md: clear errors naming the parameter at fault.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dlnest/config.h"  // Json
#include "dlnest/status.h"

namespace dlnest {

class RequestParams {
 public:
  RequestParams() = default;
  /// From name/value pairs (query string and form fields; a name may repeat).
  explicit RequestParams(std::multimap<std::string, std::string> values)
      : values_(std::move(values)) {}
  /// Adds the members of a JSON object body; arrays become repeated values. InvalidArgument
  /// when `body` is not a JSON object or a member is an object.
  Status add_json_body(const std::string& body);

  /// Replaces every value of `name` with `value`.
  void set(const std::string& name, const std::string& value) {
    values_.erase(name);
    values_.emplace(name, value);
  }

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  /// The value of required parameter `name`; the original's "Missing argument" error otherwise.
  Result<std::string> required(const std::string& name) const;
  /// The value of `name`, or `fallback` when absent.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  /// true/True/1 or false/False/0; `fallback` when absent; an error naming `name` otherwise.
  Result<bool> get_bool(const std::string& name, bool fallback = false) const;
  /// A decimal integer; `fallback` when absent; an error naming `name` and the value otherwise.
  Result<int64_t> get_int(const std::string& name, int64_t fallback) const;
  /// Required integer.
  Result<int64_t> required_int(const std::string& name) const;
  /// Every value of `name` as integers (each value may also be a comma-separated list).
  Result<std::vector<int64_t>> get_int_list(const std::string& name) const;
  /// Every value of `name`, in the order given.
  std::vector<std::string> get_all(const std::string& name) const {
    std::vector<std::string> out;
    auto range = values_.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
    return out;
  }

 private:
  std::multimap<std::string, std::string> values_;
};

/// The original's text for a missing parameter: "HTTP 400: Bad Request (Missing argument NAME)".
Status missing_argument(const std::string& name);

/// Parses a whole decimal integer; an error naming `name` and `text` otherwise.
Result<int64_t> parse_int_param(const std::string& name, const std::string& text);

}  // namespace dlnest
