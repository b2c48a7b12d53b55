// dlnest-worker: runs one task (training or analysis) inside its save package.
//
//   dlnest-worker train --package DIR [--resume [--checkpoint ID]] [--device cpu|cuda:N]
//                       [--devices D,D...] [--foreground] [--exit-file PATH]
//                       [--ddp [--nproc N] | --rank R --world-size W --master-addr A
//                        --master-port P] [--ddp-timeout S]
//   dlnest-worker analyze --package DIR [--checkpoint ID] [--device D]
//                         (--script FILE.cpp | --socket PATH [--scripts DIR]) [--exit-file PATH]
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "dlnest/env.h"
#include "analyzer/analyze.h"
#include "analyzer/script_compiler.h"
#include "env/path.h"
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

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  CLI::App app{"dlnest-worker: runs one DLNest task inside its save package"};
  app.require_subcommand(1);
  auto* cmd = app.add_subcommand("train", "Train (or continue training) a save package");
  dlnest::TrainCommand training;
  bool foreground = false;
  std::string exit_file;
  dlnest::add_train_flags(cmd, training);
  cmd->add_option("--exit-file", exit_file, "on exit, write the exit code (decimal) to this file");

  auto* analyze = app.add_subcommand("analyze", "Load a save package and run analysis scripts");
  dlnest::AnalyzeOptions analysis;
  analysis.toolchain_dir = dlnest::default_script_toolchain_dir();
  analyze->add_option("--package", analysis.package_dir, "the save package")->required();
  analyze->add_option("--checkpoint", analysis.checkpoint_id,
                      "checkpoint to load (-1: latest, -2: none)");
  analyze->add_option("--device", analysis.device, "cpu or cuda:N");
  auto* script = analyze->add_option("--script", analysis.script, "run this .cpp file and exit");
  analyze->add_option("--scripts", analysis.scripts_dir, "folder of the scripts runExp names");
  analyze->add_option("--socket", analysis.socket, "Unix socket to take commands on")
      ->excludes(script);
  analyze->add_option("--toolchain", analysis.toolchain_dir,
                      "folder with script_flags.txt and the precompiled header");
  analyze->add_option("--exit-file", exit_file, "on exit, write the exit code to this file");
  analyze->add_flag("--foreground", foreground, "accepted for symmetry with train");
  CLI11_PARSE(app, argc, argv);
  if (!exit_file.empty()) exit_file = dlnest::path::absolute(exit_file);
  int code = 0;
  if (analyze->parsed()) {
    analysis.package_dir = dlnest::path::absolute(analysis.package_dir);
    if (!analysis.script.empty()) analysis.script = dlnest::path::absolute(analysis.script);
    if (analysis.scripts_dir.empty()) analysis.scripts_dir = analysis.package_dir + "/AnalyzeScripts";
    analysis.scripts_dir = dlnest::path::absolute(analysis.scripts_dir);
    if (analysis.script.empty() && analysis.socket.empty()) {
      std::cerr << "dlnest-worker analyze: give --script FILE or --socket PATH\n";
      code = 2;
    } else {
      code = dlnest::run_analyzer(analysis);
    }
  } else {
    training.request.package_dir = dlnest::path::absolute(training.request.package_dir);
    code = dlnest::run_train_command(training);  // its output is flushed when it returns
  }
  if (!exit_file.empty()) write_exit_file(exit_file, code);
  return code;
}
