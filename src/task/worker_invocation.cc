#include "task/worker_invocation.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <set>
#include <sstream>
#include <tuple>

namespace dlnest {

namespace {

namespace f = worker_flag;
using Mode = WorkerInvocation::Mode;

constexpr const char* kTrainMode = "train";
constexpr const char* kAnalyzeMode = "analyze";
constexpr const char* kCpu = "cpu";
constexpr const char* kCuda = "cuda";
constexpr const char* kCudaPrefix = "cuda:";
constexpr int kMaxGpu = 1 << 16;

/// `--device` before the flags are checked together: a GPU, the CPU, or cuda:LOCAL_RANK.
constexpr int kDeviceCpu = -1;
constexpr int kDeviceLocalRank = -2;

/// A command line while it is read: the invocation, and what is checked once all flags are in.
struct ParseState {
  WorkerInvocation inv;
  std::set<std::string> seen;
  std::optional<int> device;  // kDeviceCpu, kDeviceLocalRank or a GPU
};

Status expected(const std::string& flag, const std::string& value, const std::string& what) {
  return Status::invalid_argument(flag + " " + value + ": expected " + what);
}

/// `text` as a whole integer in [min, max].
std::optional<int64_t> to_integer(const std::string& text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

Result<int> positive(const std::string& flag, const std::string& value) {
  const auto n = to_integer(value, 1, INT32_MAX);
  if (!n) return expected(flag, value, "a positive integer");
  return static_cast<int>(*n);
}

/// cuda:N as N.
std::optional<int> gpu_of(const std::string& text) {
  const std::string prefix = kCudaPrefix;
  if (text.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const auto n = to_integer(text.substr(prefix.size()), 0, kMaxGpu);
  if (!n) return std::nullopt;
  return static_cast<int>(*n);
}

/// The shortest text that reads back as `value`.
std::string format_double(double value) {
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, ptr) : std::to_string(value);
}

using Apply = Status (*)(ParseState& s, const std::string& flag, const std::string& value);

constexpr int kTrain = 1;
constexpr int kAnalyze = 2;
constexpr int kBoth = kTrain | kAnalyze;

/// One flag of the worker: in which modes, the name of its value (nullptr for a switch), and
/// where it goes: a text field as given, a switch, or a function that checks the value.
struct FlagSpec {
  const char* name;
  int modes;
  const char* value;
  const char* help;
  std::string WorkerInvocation::*text;
  bool WorkerInvocation::*on;
  Apply apply;
};

constexpr FlagSpec text_flag(const char* name, int modes, const char* value, const char* help,
                             std::string WorkerInvocation::*field) {
  return {name, modes, value, help, field, nullptr, nullptr};
}

constexpr FlagSpec switch_flag(const char* name, int modes, const char* help,
                               bool WorkerInvocation::*field) {
  return {name, modes, nullptr, help, nullptr, field, nullptr};
}

constexpr FlagSpec checked_flag(const char* name, int modes, const char* value, const char* help,
                                Apply apply) {
  return {name, modes, value, help, nullptr, nullptr, apply};
}

Status apply_checkpoint(ParseState& s, const std::string& flag, const std::string& value) {
  const auto n = to_integer(value, -2, INT32_MAX);
  if (!n) return expected(flag, value, "a checkpoint id (-1: the latest, -2: none)");
  s.inv.checkpoint_id = *n;
  return Status::ok();
}

Status apply_device(ParseState& s, const std::string& flag, const std::string& value) {
  if (value == kCpu) {
    s.device = kDeviceCpu;
  } else if (value == kCuda) {
    s.device = kDeviceLocalRank;
  } else if (const auto gpu = gpu_of(value)) {
    s.device = *gpu;
  } else {
    return expected(flag, value, "cpu, cuda:N or cuda");
  }
  return Status::ok();
}

Status apply_devices(ParseState& s, const std::string& flag, const std::string& value) {
  auto gpus = parse_gpu_list(value);
  if (!gpus.is_ok()) return gpus.status().with_context(flag + " " + value);
  s.inv.gpus = std::move(*gpus);
  return Status::ok();
}

Status apply_nproc(ParseState& s, const std::string& flag, const std::string& value) {
  DLNEST_ASSIGN_OR_RETURN(s.inv.nproc, positive(flag, value));
  return Status::ok();
}

Status apply_rank(ParseState& s, const std::string& flag, const std::string& value) {
  const auto n = to_integer(value, 0, INT32_MAX);
  if (!n) return expected(flag, value, "a non-negative integer");
  s.inv.rank = static_cast<int>(*n);
  return Status::ok();
}

Status apply_world_size(ParseState& s, const std::string& flag, const std::string& value) {
  DLNEST_ASSIGN_OR_RETURN(s.inv.world_size, positive(flag, value));
  return Status::ok();
}

Status apply_master_port(ParseState& s, const std::string& flag, const std::string& value) {
  const auto n = to_integer(value, 1, 65535);
  if (!n) return expected(flag, value, "a port from 1 to 65535");
  s.inv.master_port = static_cast<int>(*n);
  return Status::ok();
}

Status apply_ddp_timeout(ParseState& s, const std::string& flag, const std::string& value) {
  char* end = nullptr;
  const double seconds = std::strtod(value.c_str(), &end);
  if (*end != '\0' || !std::isfinite(seconds) || seconds <= 0) {
    return expected(flag, value, "a positive number of seconds");
  }
  s.inv.ddp_timeout_s = seconds;
  return Status::ok();
}

using W = WorkerInvocation;

const FlagSpec kFlags[] = {
    text_flag(f::kPackage, kBoth, "DIR", "the save package (required)", &W::package_dir),
    switch_flag(f::kResume, kTrain, "continue from a checkpoint", &W::resume),
    checked_flag(f::kCheckpoint, kBoth, "ID",
                 "train --resume: the checkpoint (-1: the latest); analyze: also -2, none",
                 apply_checkpoint),
    checked_flag(f::kDevice, kBoth, "D", "cpu or cuda:N (a rank of another launcher: cuda)",
                 apply_device),
    checked_flag(f::kDevices, kTrain, "cuda:N,...",
                 "the task's GPUs: a rank each with --ddp, else all of them (--device first)",
                 apply_devices),
    switch_flag(f::kDdp, kTrain, "launch a rank per GPU (or --nproc on the CPU) of this node",
                &W::ddp),
    checked_flag(f::kNproc, kTrain, "N", "with --ddp: ranks on this node (NPROC_PER_NODE)",
                 apply_nproc),
    checked_flag(f::kRank, kTrain, "R", "run as this rank (set by the launcher)", apply_rank),
    checked_flag(f::kWorldSize, kTrain, "W", "with --rank: the ranks in the run", apply_world_size),
    text_flag(f::kMasterAddr, kTrain, "ADDR", "with --rank: rank 0's address", &W::master_addr),
    checked_flag(f::kMasterPort, kTrain, "PORT", "with --rank: rank 0's rendezvous port",
                 apply_master_port),
    checked_flag(f::kDdpTimeout, kTrain, "S", "seconds the rendezvous and a collective may take",
                 apply_ddp_timeout),
    text_flag(f::kScript, kAnalyze, "FILE.cpp", "run this script, then exit", &W::script),
    text_flag(f::kSocket, kAnalyze, "PATH", "take commands on this Unix socket", &W::socket_path),
    text_flag(f::kScripts, kAnalyze, "DIR", "the scripts runExp names (default: the package's)",
              &W::scripts_dir),
    text_flag(f::kToolchain, kAnalyze, "DIR", "script_flags.txt and the precompiled header",
              &W::toolchain_dir),
    switch_flag(f::kForeground, kBoth, "also echo the output to the terminal", &W::foreground),
    text_flag(f::kExitFile, kBoth, "PATH", "on exit, write the exit code to this file",
              &W::exit_file),
};

int mode_bit(Mode mode) {
  return mode == Mode::kTrain ? kTrain : kAnalyze;
}
const char* mode_name(Mode mode) {
  return mode == Mode::kTrain ? kTrainMode : kAnalyzeMode;
}

const FlagSpec* find_flag(const std::string& name, Mode mode) {
  for (const FlagSpec& spec : kFlags) {
    if (name == spec.name && (spec.modes & mode_bit(mode)) != 0) return &spec;
  }
  return nullptr;
}

/// Reads the flag at args[i] (and its value), advancing i past them.
Status read_flag(const std::vector<std::string>& args, size_t& i, ParseState& s) {
  std::string name = args[i++];
  std::optional<std::string> value;
  if (const size_t eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
    value = name.substr(eq + 1);
    name.resize(eq);
  }
  const FlagSpec* spec = find_flag(name, s.inv.mode);
  if (spec == nullptr) {
    if (name.rfind("-", 0) != 0) return Status::invalid_argument(name + ": unexpected argument");
    return Status::invalid_argument(name + ": not a flag of dlnest-worker " +
                                    mode_name(s.inv.mode));
  }
  if (spec->value == nullptr) {
    if (value) return Status::invalid_argument(name + ": takes no value");
  } else if (!value) {
    if (i == args.size() || args[i].rfind("--", 0) == 0) {
      return Status::invalid_argument(name + ": expected a value (" + spec->value + ")");
    }
    value = args[i++];
  }
  if (spec->value != nullptr && value->empty()) {
    return Status::invalid_argument(name + ": expected a value (" + spec->value + "), got \"\"");
  }
  s.seen.insert(name);
  if (spec->text != nullptr) {
    s.inv.*spec->text = *value;
  } else if (spec->on != nullptr) {
    s.inv.*spec->on = true;
  } else {
    return spec->apply(s, name, *value);
  }
  return Status::ok();
}

Status needs(const ParseState& s, const char* flag, const char* other) {
  if (s.seen.count(flag) != 0 && s.seen.count(other) == 0) {
    return Status::invalid_argument(std::string(flag) + ": needs " + other);
  }
  return Status::ok();
}

Status excludes(const ParseState& s, const char* flag, const char* other) {
  if (s.seen.count(flag) != 0 && s.seen.count(other) != 0) {
    return Status::invalid_argument(std::string(flag) + ": not with " + other);
  }
  return Status::ok();
}

/// --device and --devices into gpus: the list wins, and --device must be its first entry.
Status settle_devices(ParseState& s) {
  const bool listed = s.seen.count(f::kDevices) != 0;
  if (!s.device) return Status::ok();
  const std::string device = *s.device == kDeviceCpu         ? kCpu
                             : *s.device == kDeviceLocalRank ? kCuda
                                                             : format_gpu(*s.device);
  if (listed) {
    if (*s.device == s.inv.gpus.front()) return Status::ok();
    return expected(f::kDevice, device,
                    format_gpu(s.inv.gpus.front()) + ", the first of " + f::kDevices + " " +
                        format_gpu_list(s.inv.gpus));
  }
  s.inv.gpu_from_local_rank = *s.device == kDeviceLocalRank;
  if (*s.device >= 0) s.inv.gpus = {*s.device};
  return Status::ok();
}

/// The rules between flags, once all are read.
Status check_together(ParseState& s) {
  if (s.seen.count(f::kPackage) == 0) {
    return Status::invalid_argument(std::string(f::kPackage) + ": required");
  }
  DLNEST_RETURN_IF_ERROR(settle_devices(s));
  if (s.inv.mode == Mode::kAnalyze) {
    DLNEST_RETURN_IF_ERROR(excludes(s, f::kScript, f::kSocket));
    if (s.inv.script.empty() && s.inv.socket_path.empty()) {
      return Status::invalid_argument(std::string(f::kScript) + " or " + f::kSocket +
                                      ": give one (a script to run, or a socket to serve)");
    }
    return Status::ok();
  }
  DLNEST_RETURN_IF_ERROR(needs(s, f::kNproc, f::kDdp));
  DLNEST_RETURN_IF_ERROR(excludes(s, f::kRank, f::kDdp));
  for (const char* flag : {f::kWorldSize, f::kMasterAddr, f::kMasterPort}) {
    DLNEST_RETURN_IF_ERROR(needs(s, flag, f::kRank));
  }
  return Status::ok();
}

void add(std::vector<std::string>& argv, const char* flag, const std::string& value) {
  argv.push_back(flag);
  argv.push_back(value);
}

void add_train_flags(const WorkerInvocation& w, std::vector<std::string>& argv) {
  if (w.ddp) argv.push_back(f::kDdp);
  if (w.ddp && w.nproc > 0) add(argv, f::kNproc, std::to_string(w.nproc));
  if (w.rank >= 0) {
    add(argv, f::kRank, std::to_string(w.rank));
    if (w.world_size > 0) add(argv, f::kWorldSize, std::to_string(w.world_size));
    if (!w.master_addr.empty()) add(argv, f::kMasterAddr, w.master_addr);
    if (w.master_port > 0) add(argv, f::kMasterPort, std::to_string(w.master_port));
  }
  if (w.ddp_timeout_s) add(argv, f::kDdpTimeout, format_double(*w.ddp_timeout_s));
}

void add_analyze_flags(const WorkerInvocation& w, std::vector<std::string>& argv) {
  if (!w.script.empty()) add(argv, f::kScript, w.script);
  if (!w.socket_path.empty()) add(argv, f::kSocket, w.socket_path);
  if (!w.scripts_dir.empty()) add(argv, f::kScripts, w.scripts_dir);
  if (!w.toolchain_dir.empty()) add(argv, f::kToolchain, w.toolchain_dir);
}

}  // namespace

std::string format_gpu(int gpu) {
  return kCudaPrefix + std::to_string(gpu);
}

std::string format_gpu_list(const std::vector<int>& gpus) {
  std::string out;
  for (int gpu : gpus) out += (out.empty() ? "" : ",") + format_gpu(gpu);
  return out;
}

Result<std::vector<int>> parse_gpu_list(const std::string& text) {
  std::vector<int> gpus;
  size_t start = 0;
  for (;;) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const std::optional<int> gpu = gpu_of(item);
    if (!gpu) {
      return Status::invalid_argument("expected cuda:N,cuda:M,... (N a GPU number), got \"" + item +
                                      "\"");
    }
    for (int seen : gpus) {
      if (seen == *gpu) return Status::invalid_argument(item + " is named twice");
    }
    gpus.push_back(*gpu);
    if (comma == text.size()) return gpus;
    start = comma + 1;
  }
}

std::string WorkerInvocation::device() const {
  if (gpu_from_local_rank) return kCuda;
  return gpus.empty() ? kCpu : format_gpu(gpus.front());
}

std::vector<std::string> WorkerInvocation::to_argv(const std::string& worker_path) const {
  std::vector<std::string> argv = {worker_path, mode_name(mode)};
  add(argv, f::kPackage, package_dir);
  const bool train = mode == Mode::kTrain;
  if (train && resume) argv.push_back(f::kResume);
  if (!train || resume || checkpoint_id != -1) {
    add(argv, f::kCheckpoint, std::to_string(checkpoint_id));
  }
  add(argv, f::kDevice, device());
  if (train && (ddp || gpus.size() > 1) && !gpus.empty()) {
    add(argv, f::kDevices, format_gpu_list(gpus));
  }
  if (train) {
    add_train_flags(*this, argv);
  } else {
    add_analyze_flags(*this, argv);
  }
  if (foreground) argv.push_back(f::kForeground);
  if (!exit_file.empty()) add(argv, f::kExitFile, exit_file);
  return argv;
}

Result<WorkerInvocation> WorkerInvocation::parse(const std::vector<std::string>& args) {
  ParseState s;
  if (args.empty()) {
    return Status::invalid_argument("expected a mode: train or analyze");
  }
  if (args[0] == kAnalyzeMode) {
    s.inv.mode = Mode::kAnalyze;
  } else if (args[0] != kTrainMode) {
    return Status::invalid_argument(args[0] + ": unknown mode; expected train or analyze");
  }
  for (size_t i = 1; i < args.size();) DLNEST_RETURN_IF_ERROR(read_flag(args, i, s));
  DLNEST_RETURN_IF_ERROR(check_together(s));
  return std::move(s.inv);
}

std::string WorkerInvocation::usage() {
  std::ostringstream out;
  out << "usage: dlnest-worker train --package DIR [flags]\n"
      << "       dlnest-worker analyze --package DIR (--script FILE.cpp | --socket PATH) [flags]\n";
  for (Mode mode : {Mode::kTrain, Mode::kAnalyze}) {
    out << "\n" << mode_name(mode) << " flags:\n";
    for (const FlagSpec& spec : kFlags) {
      if ((spec.modes & mode_bit(mode)) == 0) continue;
      const std::string head =
          std::string(spec.name) + (spec.value ? std::string(" ") + spec.value : "");
      out << "  " << std::left << std::setw(26) << head << " " << spec.help << "\n";
    }
  }
  return out.str();
}

bool WorkerInvocation::operator==(const WorkerInvocation& o) const {
  auto fields = [](const WorkerInvocation& w) {
    return std::tie(w.mode, w.package_dir, w.exit_file, w.checkpoint_id, w.gpus,
                    w.gpu_from_local_rank, w.foreground, w.resume, w.ddp, w.nproc, w.rank,
                    w.world_size, w.master_addr, w.master_port, w.ddp_timeout_s, w.scripts_dir,
                    w.socket_path, w.script, w.toolchain_dir);
  };
  return fields(*this) == fields(o);
}

}  // namespace dlnest
