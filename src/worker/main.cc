// dlnest-worker: runs one task (training or analysis) inside its save package.
//
//   dlnest-worker train --package DIR [--resume [--checkpoint ID]] [--device cpu|cuda:N]
//                       [--foreground] [--exit-file PATH]
//   dlnest-worker analyze --package DIR [--checkpoint ID] [--device D]
//                         (--script FILE.cpp | --socket PATH [--scripts DIR]) [--exit-file PATH]
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "dlnest/env.h"
#include "sdk/trainer.h"
#include "worker/analyze.h"
#include "worker/script_compiler.h"
#include "worker/output.h"
#include "worker/plugin_loader.h"
#include "worker/progress.h"

namespace {

constexpr const char* kPluginFile = "dlnest_plugin.so";
constexpr const char* kOutputFile = "_output.txt";
// glibc's largest mmap threshold: activation buffers below it are reused from the heap instead of
// being returned to the kernel and faulted back in at every step (docs/benchmarks.md).
constexpr int kMmapThreshold = 32 * 1024 * 1024;
constexpr int kTrimThreshold = 1 << 30;

void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

/// `path` relative to the folder the worker was started in.
std::string absolute(const std::string& path) {
  char cwd[4096];
  if ((!path.empty() && path[0] == '/') || ::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return cwd + ("/" + path);
}

/// Leaves the exit code where a supervisor that is not this process's parent can read it.
void write_exit_file(const std::string& path, int code) {
  const dlnest::Status s =
      dlnest::write_file_atomically(dlnest::Env::default_env(), path, std::to_string(code) + "\n");
  if (!s.is_ok()) std::cerr << "dlnest-worker: error: " << s.message() << "\n";
}

int train(dlnest::TrainRequest request, bool foreground) {
  if (::chdir(request.package_dir.c_str()) != 0) {
    std::cerr << "dlnest-worker: error: cannot enter package " << request.package_dir << "\n";
    return 2;
  }
  auto output = dlnest::WorkerOutput::redirect(kOutputFile, foreground);
  if (!output.is_ok()) {
    std::cerr << "dlnest-worker: error: " << output.status().message() << "\n";
    return 2;
  }
  dlnest::ProgressLine progress(**output);
  if ((*output)->has_terminal()) {
    request.on_step = [&progress](const dlnest::StepProgress& p) { progress.update(p); };
    request.on_epoch_end = [&progress] { progress.end_epoch(); };
  }
  std::cout << "[dlnest] train " << request.package_dir << " on " << request.device;
  if (request.resume) {
    std::cout << ", continuing from "
              << (request.checkpoint_id < 0 ? std::string("the latest checkpoint")
                                            : "checkpoint " + std::to_string(request.checkpoint_id));
  }
  std::cout << std::endl;
  dlnest::Status s = dlnest::load_plugin(request.package_dir + "/" + kPluginFile);
  if (s.is_ok()) s = dlnest::run_training(request);
  if (!s.is_ok()) {
    std::cerr << "[dlnest] error: " << s.message() << std::endl;
    return 1;
  }
  std::cout << "[dlnest] finished" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  CLI::App app{"dlnest-worker: runs one DLNest task inside its save package"};
  app.require_subcommand(1);
  auto* cmd = app.add_subcommand("train", "Train (or continue training) a save package");
  dlnest::TrainRequest request;
  bool foreground = false;
  std::string exit_file;
  cmd->add_option("--package", request.package_dir, "the save package")->required();
  cmd->add_flag("--resume", request.resume, "continue from a checkpoint");
  cmd->add_option("--checkpoint", request.checkpoint_id, "checkpoint to continue from (-1: latest)");
  cmd->add_option("--device", request.device, "cpu or cuda:N");
  cmd->add_flag("--foreground", foreground, "also echo the output to the terminal");
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
  if (!exit_file.empty()) exit_file = absolute(exit_file);
  int code = 0;
  if (analyze->parsed()) {
    analysis.package_dir = absolute(analysis.package_dir);
    if (!analysis.script.empty()) analysis.script = absolute(analysis.script);
    if (analysis.scripts_dir.empty()) analysis.scripts_dir = analysis.package_dir + "/AnalyzeScripts";
    analysis.scripts_dir = absolute(analysis.scripts_dir);
    if (analysis.script.empty() && analysis.socket.empty()) {
      std::cerr << "dlnest-worker analyze: give --script FILE or --socket PATH\n";
      code = 2;
    } else {
      code = dlnest::run_analyzer(analysis);
    }
  } else {
    request.package_dir = absolute(request.package_dir);
    code = train(request, foreground);  // its output is flushed when it returns
  }
  if (!exit_file.empty()) write_exit_file(exit_file, code);
  return code;
}
