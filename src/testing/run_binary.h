// Running a program of this build to its end, as a user would, for tests.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "dlnest/env.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace dlnest::testing {

/// How a program run ended and what it wrote.
struct BinaryRun {
  int exit_code = -1;  ///< -1: it did not exit (a signal) or could not start
  std::string out;
  std::string err;
};

/// Runs `argv` (argv[0] a path) to its end; stdout and stderr are kept apart.
inline BinaryRun run_binary(std::vector<std::string> argv) {
  TempDir dir;
  const std::string out = dir.file("out"), err = dir.file("err");
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT, 0600);
  pid_t pid = 0;
  BinaryRun run;
  const bool started = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0;
  posix_spawn_file_actions_destroy(&actions);
  if (!started) return run;
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto read = [](const std::string& file) {
    Result<std::string> text = Env::default_env()->read_file(file);
    return text.is_ok() ? *text : std::string();
  };
  run.out = read(out);
  run.err = read(err);
  return run;
}

}  // namespace dlnest::testing
