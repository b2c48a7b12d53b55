#include "server/message_log.h"

#include <time.h>

#include <algorithm>

namespace dlnest {

std::string local_time_stamp(std::time_t when) {
  std::tm tm{};
  ::localtime_r(&when, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void MessageLog::push_locked(std::string style, std::string text) {
  if (text.empty()) return;
  const int64_t offset = end_;
  end_ += static_cast<int64_t>(text.size());
  size_ += text.size();
  pieces_.push_back(Piece{offset, std::move(style), std::move(text)});
  while (size_ > capacity_ && pieces_.size() > 1) {
    size_ -= pieces_.front().text.size();
    pieces_.pop_front();
  }
}

void MessageLog::add(const std::string& prefix, const std::string& body,
                     const std::string& prefix_style) {
  std::lock_guard<std::mutex> lock(mu_);
  if (echo_) echo_(local_time_stamp(std::time(nullptr)) + " " + prefix + body + "\n");
  push_locked(prefix_style, prefix);
  push_locked(kPlainStyle, body);
  push_locked(kPlainStyle, "\n");
}

void MessageLog::append_raw(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (echo_) echo_(text);
  push_locked(kPlainStyle, text);
}

LogSlice MessageLog::read(int64_t offset, size_t max_bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  LogSlice slice;
  const int64_t begin = pieces_.empty() ? end_ : pieces_.front().offset;
  slice.offset = std::clamp(offset, begin, end_);
  slice.next_offset = slice.offset;
  // The first piece that ends after the offset.
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), slice.offset,
                             [](int64_t off, const Piece& p) {
                               return off < p.offset + static_cast<int64_t>(p.text.size());
                             });
  for (; it != pieces_.end(); ++it) {
    const size_t skip = static_cast<size_t>(slice.next_offset - it->offset);
    std::string part = it->text.substr(skip);
    if (slice.text.size() + part.size() > max_bytes) {
      if (!slice.text.empty()) break;  // cut at a piece boundary
      part.resize(max_bytes);          // one piece larger than the limit: cut inside it
    }
    slice.next_offset += static_cast<int64_t>(part.size());
    slice.text += part;
    slice.styled.emplace_back(it->style, std::move(part));
  }
  return slice;
}

void MessageLog::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  pieces_.clear();
  size_ = 0;
}

int64_t MessageLog::end_offset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_;
}

Json log_slice_to_json(const LogSlice& slice, bool styled) {
  Json reply = Json::object();
  reply["offset"] = slice.offset;
  reply["next_offset"] = slice.next_offset;
  if (!styled) {
    reply["text"] = slice.text;
  } else if (slice.styled.empty()) {
    reply["text"] = Json::array({Json::array({"", ""})});
  } else {
    Json pieces = Json::array();
    for (const auto& [style, text] : slice.styled) pieces.push_back(Json::array({style, text}));
    reply["text"] = std::move(pieces);
  }
  return reply;
}

}  // namespace dlnest
