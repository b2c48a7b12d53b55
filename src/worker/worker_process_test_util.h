// Helpers of the worker's end-to-end tests that start `dlnest-worker train` as a real process,
// signal it like a terminal or a supervisor does, and prepare packages to train.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "metrics/metrics_log.h"

extern char** environ;

namespace dlnest {
namespace testing {

/// The contents of `file`; empty if it cannot be read.
inline std::string read(const std::string& file) {
  auto data = Env::default_env()->read_file(file);
  return data.is_ok() ? *data : "";
}

/// The lines of `file`, without their newlines; none if it cannot be read.
inline std::vector<std::string> lines_of(const std::string& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// How many times `text` occurs in `file`.
inline int count_in(const std::string& file, const std::string& text) {
  auto data = Env::default_env()->read_file(file);
  int n = 0;
  if (!data.is_ok()) return n;
  for (size_t at = data->find(text); at != std::string::npos; at = data->find(text, at + 1)) ++n;
  return n;
}

/// `worker train --package package flags...`, started in a process group of its own (its pid is
/// the group's id) with no terminal. Returns once each of `outputs` (files in the package) says
/// once more that a process trains: their signal handlers are in place then.
inline pid_t start_worker(const std::string& worker, const std::string& package,
                          std::vector<std::string> flags, const std::vector<std::string>& outputs) {
  const std::string started = "[dlnest] train ";
  std::vector<int> before;
  for (const std::string& file : outputs) before.push_back(count_in(path::join(package, file), started));
  std::vector<std::string> argv = {worker, "train", "--package", package};
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  for (int fd : {0, 1, 2}) {
    posix_spawn_file_actions_addopen(&files, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &files, &attr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (size_t i = 0; i < outputs.size() && pid > 0; ++i) {
    while (count_in(path::join(package, outputs[i]), started) == before[i] &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return pid;
}

/// The exit code of `pid`, 128 + the signal when one killed it.
inline int wait_for(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/// Copies `package` to `copy` as it was before it trained (its args, with `overrides` merged,
/// and its plugin; no checkpoints, metrics or output).
inline Status fresh_copy(const std::string& package, const std::string& copy,
                         const Json& overrides = Json::object()) {
  Env* env = Env::default_env();
  DLNEST_RETURN_IF_ERROR(copy_tree(env, package, copy));
  for (const char* record :
       {SavePackage::kCheckpointsDir, SavePackage::kMetricsFile, MetricsLog::kCsvFile,
        MetricsLog::kTensorBoardDir, SavePackage::kOutputFile}) {
    env->remove_tree(path::join(copy, record));
  }
  auto text = env->read_file(path::join(copy, SavePackage::kArgsFile));
  if (!text.is_ok()) return text.status();
  Json args = Json::parse(*text);
  merge_args(args, overrides);
  DLNEST_RETURN_IF_ERROR(
      write_file_atomically(env, path::join(copy, SavePackage::kArgsFile), args.dump()));
  return write_file_atomically(env, path::join(copy, SavePackage::kIndexFile),
                               R"({"ckpt_consistent": [], "ckpt_fast": [], "ckpt_slow": []})");
}

/// The records of `package`'s metrics.jsonl, in order.
inline std::vector<Json> metrics_records(const std::string& package) {
  std::vector<Json> out;
  auto text = Env::default_env()->read_file(path::join(package, SavePackage::kMetricsFile));
  if (!text.is_ok()) return out;
  size_t begin = 0;
  for (size_t end; (end = text->find('\n', begin)) != std::string::npos; begin = end + 1) {
    out.push_back(Json::parse(text->substr(begin, end - begin)));
  }
  return out;
}

/// The records of `package`'s metrics.jsonl of `kind` ("step" or "epoch").
inline std::vector<Json> metrics_records(const std::string& package, const std::string& kind) {
  std::vector<Json> out;
  for (Json& record : metrics_records(package)) {
    if (record["kind"] == kind) out.push_back(std::move(record));
  }
  return out;
}

/// The records of `package`'s metrics.jsonl without the wall times, which differ from run to
/// run: the records' time and the epochs' seconds.
inline std::vector<Json> metrics_without_times(const std::string& package) {
  std::vector<Json> out = metrics_records(package);
  for (Json& record : out) {
    record.erase("time");
    record["values"].erase("seconds");
  }
  return out;
}

}  // namespace testing
}  // namespace dlnest
