#include "analyzer/analyze.h"

#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <iostream>

#include "analyzer/command_channel.h"
#include "analyzer/command_queue.h"
#include "analyzer/script_compiler.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "sdk/analyzer.h"
#include "sdk/plugin_loader.h"

namespace dlnest {
namespace {

constexpr const char* kPrefix = kAnalyzerPrefix;

void say(const std::string& text) {
  std::cout << kPrefix << text << std::endl;
}

void report_error(const Status& status) {
  std::cout.flush();
  std::cerr << kPrefix << "[Error] " << status.message() << std::endl;
}

/// Compiles (or finds cached) and runs one script file.
Status run_script(const ScriptCompiler& compiler, AnalysisSession& session,
                  const std::string& source) {
  const std::string name = path::base_name(source);
  DLNEST_ASSIGN_OR_RETURN(CompiledScript compiled, compiler.compile(source));
  if (compiled.cached) {
    say("running " + name + " (compiled before)");
  } else {
    std::ostringstream took;
    took << std::fixed << std::setprecision(1) << compiled.seconds;
    say("compiled " + name + " in " + took.str() + " s; running it");
  }
  DLNEST_ASSIGN_OR_RETURN(void* entry, load_experiment(compiled.library));
  Status s = session.run(reinterpret_cast<ExperimentEntry>(entry), name);
  std::cout.flush();
  return s;
}

/// Runs the queued commands one after the other, for ever.
int serve_commands(const ScriptCompiler& compiler, AnalysisSession& session, CommandQueue& queue) {
  for (;;) {
    if (queue.empty()) say("Waiting for command...");
    QueuedCommand command = queue.pop();
    Status s = command.source.status();
    if (!s.is_ok()) {
      report_error(s.with_context("[Ignored] " + command.command));
    } else {
      s = run_script(compiler, session, *command.source);
      if (!s.is_ok()) report_error(s);
    }
    std::cout << script_end_line(command.command, s.is_ok()) << std::endl;
  }
}

}  // namespace

int run_analyzer(const AnalyzeOptions& options) {
  // Output reaches the server's file (or the terminal) line by line.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (::chdir(options.package_dir.c_str()) != 0) {
    report_error(Status::not_found("cannot enter package " + options.package_dir));
    return 1;
  }
  // Commands are taken in while the package loads, and queued.
  std::unique_ptr<CommandQueue> queue;
  if (options.script.empty()) {
    auto started = CommandQueue::start(options.socket, [&options](const std::string& command) {
      return ScriptCompiler::resolve(options.scripts_dir, command);
    });
    if (!started.is_ok()) {
      report_error(started.status());
      return 1;
    }
    queue = std::move(started).value();
  }
  auto toolchain = ScriptToolchain::load(options.toolchain_dir);
  if (!toolchain.is_ok()) {
    report_error(toolchain.status());
    return 1;
  }
  const ScriptCompiler compiler(std::move(toolchain).value(),
                                path::join(options.package_dir, ".dlnest/scripts"));
  Status s = load_plugin(path::join(options.package_dir, SavePackage::kPluginFile));
  if (!s.is_ok()) {
    report_error(s);
    return 1;
  }
  AnalyzeRequest request;
  request.package_dir = options.package_dir;
  request.checkpoint_id = options.checkpoint_id;
  request.device = options.device;
  auto session = AnalysisSession::open(request);
  if (!session.is_ok()) {
    report_error(session.status());
    return 1;
  }
  say("loaded " + (*session)->describe());
  if (queue != nullptr) return serve_commands(compiler, **session, *queue);
  s = run_script(compiler, **session, options.script);
  if (!s.is_ok()) report_error(s);
  return s.is_ok() ? 0 : 1;
}

}  // namespace dlnest
