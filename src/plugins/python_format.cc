#include "plugins/python_format.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace dlnest {

namespace {

struct Spec {
  char fill = ' ';
  char align = 0;  // '<', '>', '^', '='; 0: the type's default
  char sign = '-';
  int width = 0;
  int precision = -1;
  char type = 0;
};

bool is_align(char c) {
  return c == '<' || c == '>' || c == '^' || c == '=';
}

Result<Spec> parse_spec(const std::string& text) {
  Spec spec;
  size_t i = 0;
  if (text.size() >= 2 && is_align(text[1])) {
    spec.fill = text[0];
    spec.align = text[1];
    i = 2;
  } else if (!text.empty() && is_align(text[0])) {
    spec.align = text[0];
    i = 1;
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-' || text[i] == ' '))
    spec.sign = text[i++];
  if (i < text.size() && text[i] == '0') {
    spec.fill = '0';
    if (spec.align == 0) spec.align = '=';
    ++i;
  }
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    spec.width = spec.width * 10 + (text[i] - '0');
  }
  if (i < text.size() && text[i] == '.') {
    spec.precision = 0;
    const size_t digits = ++i;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      spec.precision = spec.precision * 10 + (text[i] - '0');
    }
    if (i == digits) return Status::invalid_argument("Format specifier missing precision");
  }
  if (i < text.size()) spec.type = text[i++];
  if (i != text.size() ||
      (spec.type != 0 && std::string("sdfFeEgG%").find(spec.type) == std::string::npos)) {
    return Status::invalid_argument("Invalid format specifier '" + text + "'");
  }
  return spec;
}

/// A number as Python's str() prints it.
std::string python_str(const Json& value) {
  if (value.is_null()) return "None";
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    std::string text = value.dump();
    if (text.find_first_of(".eE") == std::string::npos) text += ".0";
    return text;
  }
  return value.dump();
}

Result<std::string> format_number(const Json& value, const Spec& spec) {
  const char* type_name = value.is_null()     ? "NoneType"
                          : value.is_string() ? "str"
                                              : value.type_name();
  if (!value.is_number() || (spec.type == 'd' && !value.is_number_integer())) {
    return Status::invalid_argument(std::string("Unknown format code '") + spec.type +
                                    "' for object of type '" + type_name + "'");
  }
  std::string format = "%";
  if (spec.sign != '-') format += spec.sign;
  if (spec.type == 'd') {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, (format + "lld").c_str(), value.get<long long>());
    return std::string(buffer);
  }
  const int precision = spec.precision < 0 ? 6 : spec.precision;
  double d = value.get<double>();
  char type = spec.type;
  if (type == '%') {
    d *= 100;
    type = 'f';
  } else if (type == 0) {
    type = 'g';
  }
  format += "." + std::to_string(precision) + type;
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format.c_str(), d);
  return std::string(buffer) + (spec.type == '%' ? "%" : "");
}

std::string pad(std::string text, const Spec& spec, bool number) {
  if (static_cast<int>(text.size()) >= spec.width) return text;
  const size_t missing = spec.width - text.size();
  const char align = spec.align != 0 ? spec.align : number ? '>' : '<';
  if (align == '<') return text + std::string(missing, spec.fill);
  if (align == '^') {
    return std::string(missing / 2, spec.fill) + text +
           std::string(missing - missing / 2, spec.fill);
  }
  if (align == '=' && !text.empty() && (text[0] == '-' || text[0] == '+' || text[0] == ' ')) {
    return text.substr(0, 1) + std::string(missing, spec.fill) + text.substr(1);
  }
  return std::string(missing, spec.fill) + text;
}

Result<std::string> format_field(const Json& value, const std::string& spec_text) {
  DLNEST_ASSIGN_OR_RETURN(const Spec spec, parse_spec(spec_text));
  const bool as_text = spec.type == 's' || (spec.type == 0 && spec.precision < 0) ||
                       (spec.type == 0 && !value.is_number());
  if (as_text) {
    if (spec.type == 's' && !value.is_string()) {
      return Status::invalid_argument(
          "Unknown format code 's' for object of type '" +
          std::string(value.is_null() ? "NoneType" : value.type_name()) + "'");
    }
    std::string text = python_str(value);
    if (spec.precision >= 0 && value.is_string()) text = text.substr(0, spec.precision);
    return pad(text, spec, value.is_number());
  }
  DLNEST_ASSIGN_OR_RETURN(std::string text, format_number(value, spec));
  return pad(text, spec, true);
}

}  // namespace

Result<std::string> python_format(const std::string& pattern, const std::vector<Json>& values) {
  std::string out;
  size_t next = 0;
  bool automatic = false;
  bool manual = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '}') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '}')
        ++i;
      else
        return Status::invalid_argument("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == std::string::npos)
      return Status::invalid_argument("Single '{' encountered in format string");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    i = close;
    const size_t colon = field.find(':');
    std::string name = field.substr(0, colon);
    if (const size_t bang = name.find('!'); bang != std::string::npos) name = name.substr(0, bang);
    size_t index = next;
    if (name.empty()) {
      automatic = true;
      ++next;
    } else if (std::all_of(name.begin(), name.end(),
                           [](char d) { return std::isdigit(static_cast<unsigned char>(d)); })) {
      manual = true;
      index = std::stoul(name);
    } else {
      return Status::invalid_argument("field '" + name + "': only positional fields are supported");
    }
    if (automatic && manual) {
      return Status::invalid_argument(
          "cannot switch from automatic field numbering to manual field specification");
    }
    if (index >= values.size()) {
      return Status::invalid_argument("Replacement index " + std::to_string(index) +
                                      " out of range for positional args tuple");
    }
    DLNEST_ASSIGN_OR_RETURN(
        std::string text,
        format_field(values[index], colon == std::string::npos ? "" : field.substr(colon + 1)));
    out += text;
  }
  return out;
}

}  // namespace dlnest
