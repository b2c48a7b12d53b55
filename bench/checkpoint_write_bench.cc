// checkpoint_write_bench: checkpoint write throughput of CheckpointStore::save against plain
// sequential writes of the same bytes in the same folder, measured in one run (see
// docs/benchmarks.md). Every variant ends with an fdatasync, so the page cache cannot flatter any.
#include <fcntl.h>
#include <spawn.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dlnest/checkpoint_store.h"
#include "dlnest/env.h"
#include "dlnest/status.h"

extern char** environ;

namespace {

using dlnest::Result;
using dlnest::Status;

constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kChunkMiB = 4;
constexpr int64_t kChunkBytes = kChunkMiB * kMiB;
constexpr int kFreeSpaceFactor = 3;
constexpr const char* kUsage =
    "usage: checkpoint_write_bench [--reps N] [--size-mib M] [--dir DIR]\n"
    "  --reps N      timed repetitions of each variant (default 5), after one warm-up round\n"
    "  --size-mib M  payload size in MiB, a multiple of 4 (default 1024)\n"
    "  --dir DIR     folder to write in (default $TMPDIR or /tmp); a temporary subfolder is\n"
    "                created there and removed at the end\n";

struct Options {
  int reps = 5;
  int64_t size_mib = 1024;
  std::string dir;
};

/// One way of writing the payload, and the seconds each timed repetition took.
struct Variant {
  std::string name;
  std::function<Result<double>()> run;
  std::vector<double> seconds;
};

Result<int64_t> parse_positive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value <= 0) {
    return Status::invalid_argument(flag + " expects a positive integer, got '" + text + "'");
  }
  return static_cast<int64_t>(value);
}

Result<Options> parse_options(int argc, char** argv) {
  Options options;
  const char* tmpdir = std::getenv("TMPDIR");
  options.dir = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Status::invalid_argument("missing value after " + flag);
    const std::string value = argv[i + 1];
    if (flag == "--dir") {
      options.dir = value;
      continue;
    }
    auto number = parse_positive(flag, value);
    if (!number.is_ok()) return number.status();
    if (flag == "--reps") {
      options.reps = static_cast<int>(*number);
    } else if (flag == "--size-mib") {
      options.size_mib = *number;
    } else {
      return Status::invalid_argument("unknown option " + flag);
    }
  }
  if (options.size_mib % kChunkMiB != 0) {
    return Status::invalid_argument("--size-mib must be a multiple of " +
                                    std::to_string(kChunkMiB));
  }
  return options;
}

/// One chunk of non-zero pseudo-random bytes, so no layer can treat the payload as sparse.
std::string make_chunk() {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> byte(1, 255);
  std::string chunk(kChunkBytes, '\0');
  for (char& c : chunk) c = static_cast<char>(byte(rng));
  return chunk;
}

Status check_free_space(const std::string& dir, int64_t needed) {
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) {
    return Status::io_error("cannot stat filesystem of " + dir + ": " + std::strerror(errno));
  }
  const int64_t free_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  if (free_bytes < needed) {
    return Status::failed_precondition(
        dir + " has " + std::to_string(free_bytes / kMiB) + " MiB free, the benchmark needs " +
        std::to_string(needed / kMiB) + " MiB (" + std::to_string(kFreeSpaceFactor) +
        "x the payload); pass --dir or a smaller --size-mib");
  }
  return Status::ok();
}

Result<std::string> make_work_dir(const std::string& parent) {
  std::string templ = parent + "/checkpoint_write_bench.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Status::io_error("cannot create a folder in " + parent + ": " + std::strerror(errno));
  }
  return templ;
}

/// The absolute path of `name` found on $PATH, or "" when there is none.
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

template <typename Fn>
Result<double> timed(Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  const Status s = fn();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (!s.is_ok()) return s;
  return elapsed.count();
}

/// (a) CheckpointStore::save streaming the payload chunk by chunk; the fast track (cap 1) drops
/// and deletes the previous checkpoint, which is part of the measured cost.
Result<double> time_store_save(dlnest::CheckpointStore& store, const std::string& chunk,
                               int64_t size) {
  const dlnest::FileWriter writer = [&chunk, size](dlnest::WritableFile& out) {
    for (int64_t done = 0; done < size; done += kChunkBytes) {
      DLNEST_RETURN_IF_ERROR(out.append(chunk));
    }
    return Status::ok();
  };
  return timed([&] { return store.save(writer, false).status(); });
}

Status write_all(int fd, const std::string& chunk, int64_t size) {
  for (int64_t done = 0; done < size; done += kChunkBytes) {
    std::string_view rest = chunk;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::io_error(std::string("write failed: ") + std::strerror(errno));
      rest.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (::fdatasync(fd) != 0) {
    return Status::io_error(std::string("fdatasync failed: ") + std::strerror(errno));
  }
  return Status::ok();
}

/// (b) open(O_TRUNC), sequential write() of the same chunks, fdatasync, close.
Result<double> time_plain_write(const std::string& path, const std::string& chunk, int64_t size) {
  return timed([&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::io_error("cannot create " + path + ": " + std::strerror(errno));
    Status s = write_all(fd, chunk, size);
    if (::close(fd) != 0 && s.is_ok()) {
      s = Status::io_error("cannot close " + path + ": " + std::strerror(errno));
    }
    return s;
  });
}

/// Runs `argv` with stdout and stderr sent to /dev/null and waits for it.
Status run_quietly(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::io_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      return Status::io_error(std::string("waitpid failed: ") + std::strerror(errno));
    }
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Status::io_error(argv[0] + " failed with wait status " + std::to_string(wstatus));
  }
  return Status::ok();
}

/// (c) the external reference: dd if=/dev/zero of=FILE bs=4M count=N conv=fdatasync.
Result<double> time_dd(const std::string& dd, const std::string& path, int64_t size) {
  const std::vector<std::string> argv = {dd,
                                         "if=/dev/zero",
                                         "of=" + path,
                                         "bs=" + std::to_string(kChunkMiB) + "M",
                                         "count=" + std::to_string(size / kChunkBytes),
                                         "conv=fdatasync"};
  return timed([&] { return run_quietly(argv); });
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double minimum(const std::vector<double>& values) {
  return *std::min_element(values.begin(), values.end());
}

/// Runs one untimed warm-up round, then `reps` timed rounds, the variants interleaved.
Status run_rounds(std::vector<Variant>& variants, int reps) {
  for (int round = 0; round <= reps; ++round) {
    const std::string label = round == 0 ? "warm-up:" : "rep " + std::to_string(round) + ":";
    std::printf("%s", label.c_str());
    for (Variant& v : variants) {
      auto seconds = v.run();
      if (!seconds.is_ok()) return seconds.status().with_context(v.name);
      if (round > 0) v.seconds.push_back(*seconds);
      std::printf("  %s %.2f s", v.name.substr(0, 3).c_str(), *seconds);  // "(a) 1.23 s"
      std::fflush(stdout);
    }
    std::printf("\n");
  }
  return Status::ok();
}

void print_table(const std::vector<Variant>& variants, int64_t size) {
  const double mib = static_cast<double>(size) / kMiB;
  std::printf("\n%-36s %9s %9s %13s %13s\n", "variant", "median s", "min s", "median MiB/s",
              "best MiB/s");
  for (const Variant& v : variants) {
    const double med = median(v.seconds);
    const double best = minimum(v.seconds);
    std::printf("%-36s %9.3f %9.3f %13.1f %13.1f\n", v.name.c_str(), med, best, mib / med,
                mib / best);
  }
  const double ratio = median(variants[1].seconds) / median(variants[0].seconds);
  std::printf("\nratio (a)/(b) of median throughput: %.3f\n", ratio);
}

std::vector<Variant> make_variants(dlnest::CheckpointStore& store, const std::string& chunk,
                                   const std::string& work_dir, int64_t size) {
  // (b) and (c) share one file, so each truncates the previous 1x payload as (a) deletes its own.
  const std::string baseline = work_dir + "/baseline.bin";
  std::vector<Variant> variants;
  variants.push_back({"(a) CheckpointStore::save",
                      [&store, &chunk, size] { return time_store_save(store, chunk, size); },
                      {}});
  variants.push_back({"(b) write() + fdatasync",
                      [baseline, &chunk, size] { return time_plain_write(baseline, chunk, size); },
                      {}});
  const std::string dd = find_on_path("dd");
  if (dd.empty()) {
    std::printf("dd not found on PATH: variant (c) skipped\n");
  } else {
    variants.push_back({"(c) dd bs=4M conv=fdatasync",
                        [dd, baseline, size] { return time_dd(dd, baseline, size); },
                        {}});
  }
  return variants;
}

Status run_in(const std::string& work_dir, const Options& options) {
  const int64_t size = options.size_mib * kMiB;
  auto store = dlnest::CheckpointStore::open(dlnest::Env::default_env(), work_dir + "/package",
                                             dlnest::CheckpointArgs());
  if (!store.is_ok()) return store.status();
  const std::string chunk = make_chunk();
  std::vector<Variant> variants = make_variants(**store, chunk, work_dir, size);
  DLNEST_RETURN_IF_ERROR(run_rounds(variants, options.reps));
  print_table(variants, size);
  return Status::ok();
}

Status run_benchmark(const Options& options) {
  const int64_t size = options.size_mib * kMiB;
  DLNEST_RETURN_IF_ERROR(check_free_space(options.dir, kFreeSpaceFactor * size));
  auto work_dir = make_work_dir(options.dir);
  if (!work_dir.is_ok()) return work_dir.status();
  std::printf(
      "checkpoint_write_bench: %lld MiB payload in %lld MiB chunks, %d reps + 1 warm-up,"
      " in %s\nevery variant includes its fdatasync; (a) also renames, fsyncs the folder,"
      " writes _package.json and deletes the previous checkpoint\n\n",
      static_cast<long long>(options.size_mib), static_cast<long long>(kChunkMiB), options.reps,
      work_dir->c_str());
  const Status s = run_in(*work_dir, options);
  const Status removed = dlnest::Env::default_env()->remove_tree(*work_dir);
  return s.is_ok() ? removed : s;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  auto options = parse_options(argc, argv);
  if (!options.is_ok()) {
    std::fprintf(stderr, "checkpoint_write_bench: %s\n%s", options.status().message().c_str(),
                 kUsage);
    return 2;
  }
  const Status s = run_benchmark(*options);
  if (!s.is_ok()) {
    std::fprintf(stderr, "checkpoint_write_bench: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}
