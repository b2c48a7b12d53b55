// dlnest-worker: runs one task (training or analysis) inside its save package. Its command line
// is a WorkerInvocation (src/task/worker_invocation.h); `dlnest-worker --help` lists the flags.
#include <malloc.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "analyzer/analyze.h"
#include "analyzer/script_compiler.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "task/worker_invocation.h"
#include "worker/train_command.h"

namespace {

// glibc's largest mmap threshold: activation buffers below it are reused from the heap instead of
// being returned to the kernel and faulted back in at every step (docs/benchmarks.md).
constexpr int kMmapThreshold = 32 * 1024 * 1024;
constexpr int kTrimThreshold = 1 << 30;

void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

/// Leaves the exit code where a supervisor that is not this process's parent can read it.
void write_exit_file(const std::string& path, int code) {
  const dlnest::Status s =
      dlnest::write_file_atomically(dlnest::Env::default_env(), path, std::to_string(code) + "\n");
  if (!s.is_ok()) std::cerr << "dlnest-worker: error: " << s.message() << "\n";
}

bool wants_help(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") return true;
  }
  return false;
}

/// The invocation with its paths made absolute: the worker changes into the package.
dlnest::WorkerInvocation with_absolute_paths(dlnest::WorkerInvocation w) {
  for (std::string* p : {&w.package_dir, &w.exit_file, &w.script, &w.scripts_dir}) {
    if (!p->empty()) *p = dlnest::path::absolute(*p);
  }
  return w;
}

dlnest::AnalyzeOptions analysis_of(const dlnest::WorkerInvocation& w) {
  dlnest::AnalyzeOptions options;
  options.package_dir = w.package_dir;
  options.scripts_dir =
      w.scripts_dir.empty()
          ? dlnest::path::join(w.package_dir, dlnest::SavePackage::kAnalyzeScriptsDir)
          : w.scripts_dir;
  options.script = w.script;
  options.socket = w.socket_path;
  options.toolchain_dir =
      w.toolchain_dir.empty() ? dlnest::default_script_toolchain_dir() : w.toolchain_dir;
  options.checkpoint_id = static_cast<int>(w.checkpoint_id);
  options.device = w.device();
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (wants_help(args)) {
    std::cout << dlnest::WorkerInvocation::usage();
    return 0;
  }
  auto parsed = dlnest::WorkerInvocation::parse(args);
  if (!parsed.is_ok()) {
    std::cerr << "dlnest-worker: error: " << parsed.status().message()
              << "\n(dlnest-worker --help lists the flags)\n";
    return 2;
  }
  const dlnest::WorkerInvocation w = with_absolute_paths(std::move(*parsed));
  const int code = w.mode == dlnest::WorkerInvocation::Mode::kAnalyze
                       ? dlnest::run_analyzer(analysis_of(w))
                       : dlnest::run_train_command(w);  // its output is flushed when it returns
  if (!w.exit_file.empty()) write_exit_file(w.exit_file, code);
  return code;
}
