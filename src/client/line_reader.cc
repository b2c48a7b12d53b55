#include "client/line_reader.h"

#include <istream>

namespace dlnest {

namespace {

class StreamReader : public LineReader {
 public:
  explicit StreamReader(std::istream& in) : in_(in) {}

  std::optional<std::string> read_line(const std::string&) override {
    std::string line;
    if (!std::getline(in_, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  bool interactive() const override { return false; }

 private:
  std::istream& in_;
};

}  // namespace

std::unique_ptr<LineReader> new_stream_reader(std::istream& in) {
  return std::make_unique<StreamReader>(in);
}

}  // namespace dlnest
