#include "metrics/event_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "dlnest/env.h"
#include "env/path.h"
#include "metrics/crc32c.h"

namespace dlnest {
namespace {

// Protocol buffer wire format: each field is a key (number << 3 | wire type) and a value.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;

void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void put_key(std::string* out, int field, int wire_type) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type));
}

void put_little_endian(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_double(std::string* out, int field, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_key(out, field, kFixed64);
  put_little_endian(out, bits, 8);
}

void put_float(std::string* out, int field, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_key(out, field, kFixed32);
  put_little_endian(out, bits, 4);
}

void put_int(std::string* out, int field, int64_t value) {
  put_key(out, field, kVarint);
  put_varint(out, static_cast<uint64_t>(value));
}

void put_bytes(std::string* out, int field, const std::string& bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out->append(bytes);
}

// Field numbers of tensorflow/core/util/event.proto and summary.proto.
constexpr int kEventWallTime = 1;
constexpr int kEventStep = 2;
constexpr int kEventFileVersion = 3;
constexpr int kEventSummary = 5;
constexpr int kEventSessionLog = 7;
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1;
constexpr int kValueSimpleValue = 2;
constexpr int kSessionLogStatus = 1;
constexpr int kSessionLogStart = 1;

std::string host_name() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

}  // namespace

std::string encode_scalar_event(double wall_time, int64_t step, const std::string& tag,
                                float value) {
  std::string summary_value;
  put_bytes(&summary_value, kValueTag, tag);
  put_float(&summary_value, kValueSimpleValue, value);
  std::string summary;
  put_bytes(&summary, kSummaryValue, summary_value);
  std::string event;
  put_double(&event, kEventWallTime, wall_time);
  put_int(&event, kEventStep, step);
  put_bytes(&event, kEventSummary, summary);
  return event;
}

std::string encode_file_version_event(double wall_time) {
  std::string event;
  put_double(&event, kEventWallTime, wall_time);
  put_bytes(&event, kEventFileVersion, "brain.Event:2");
  return event;
}

std::string encode_session_start_event(double wall_time, int64_t step) {
  std::string session_log;
  put_int(&session_log, kSessionLogStatus, kSessionLogStart);
  std::string event;
  put_double(&event, kEventWallTime, wall_time);
  put_int(&event, kEventStep, step);
  put_bytes(&event, kEventSessionLog, session_log);
  return event;
}

std::string frame_record(const std::string& data) {
  std::string record;
  put_little_endian(&record, data.size(), 8);
  const uint32_t length_crc = masked_crc32c(record.data(), 8);
  put_little_endian(&record, length_crc, 4);
  record.append(data);
  put_little_endian(&record, masked_crc32c(data.data(), data.size()), 4);
  return record;
}

Result<EventFileWriter> EventFileWriter::create(const std::string& dir, double wall_time,
                                                int64_t restart_step) {
  static std::atomic<int> files{0};
  DLNEST_RETURN_IF_ERROR(Env::default_env()->create_dirs(dir));
  EventFileWriter writer;
  writer.path_ = path::join(dir, "events.out.tfevents." +
                                     std::to_string(static_cast<int64_t>(wall_time)) + "." +
                                     host_name() + "." + std::to_string(::getpid()) + "." +
                                     std::to_string(files++));
  writer.fd_.reset(::open(writer.path_.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!writer.fd_.valid()) {
    return Status::io_error("cannot create " + writer.path_ + ": " + std::strerror(errno));
  }
  DLNEST_RETURN_IF_ERROR(writer.append(encode_file_version_event(wall_time)));
  if (restart_step >= 0) {
    DLNEST_RETURN_IF_ERROR(writer.append(encode_session_start_event(wall_time, restart_step)));
  }
  return writer;
}

Status EventFileWriter::add_scalar(double wall_time, int64_t step, const std::string& tag,
                                   float value) {
  return append(encode_scalar_event(wall_time, step, tag, value));
}

Status EventFileWriter::append(const std::string& event) {
  const std::string record = frame_record(event);
  const ssize_t n = ::write(fd_.get(), record.data(), record.size());
  if (n == static_cast<ssize_t>(record.size())) return Status::ok();
  return Status::io_error("cannot write " + path_ + ": " +
                          (n < 0 ? std::strerror(errno) : "short write"));
}

}  // namespace dlnest
