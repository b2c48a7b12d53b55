#include "analyzer/script_compiler.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "analyzer/command_channel.h"
#include "dlnest/env.h"
#include "env/path.h"
#include "process/subprocess.h"
#include "project/project_builder.h"

namespace dlnest {
namespace {

constexpr size_t kMaxErrorOutput = 16 * 1024;

uint64_t fnv1a(const std::string& data, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// Modification time in nanoseconds, or -1 when `file` is missing.
int64_t mtime_ns(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

/// The files a make-style dependency file lists (after the first "target:").
std::vector<std::string> read_deps(const std::string& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  std::vector<std::string> deps;
  const size_t colon = all.find(": ");
  if (colon == std::string::npos) return deps;
  std::string word;
  for (size_t i = colon + 2; i < all.size(); ++i) {
    const char c = all[i];
    if (c == '\\' && i + 1 < all.size() && all[i + 1] == ' ') {
      word += ' ';
      ++i;
    } else if (c == '\\' && i + 1 < all.size() && all[i + 1] == '\n') {
      ++i;
    } else if (c == ' ' || c == '\n') {
      if (!word.empty()) deps.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) deps.push_back(word);
  return deps;
}

}  // namespace

std::string default_script_toolchain_dir() {
  return install_layout().toolchain_dir;
}

Result<ScriptToolchain> ScriptToolchain::load(const std::string& dir) {
  const std::string flags_file = path::join(dir, "script_flags.txt");
  std::ifstream in(flags_file);
  if (!in) return Status::not_found("no script toolchain: " + flags_file + " is missing");
  ScriptToolchain toolchain;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (toolchain.compiler.empty()) {
      toolchain.compiler = line;
    } else {
      toolchain.flags.push_back(line);
    }
  }
  if (toolchain.compiler.empty()) return Status::corruption(flags_file + " names no compiler");
  toolchain.pch_header = path::join(dir, "dlnest_script.h");
  if (!Env::default_env()->file_exists(toolchain.pch_header)) {
    return Status::not_found("no script toolchain: " + toolchain.pch_header + " is missing");
  }
  return toolchain;
}

Result<std::string> ScriptCompiler::resolve(const std::string& scripts_dir, const std::string& name) {
  DLNEST_RETURN_IF_ERROR(check_script_name(name, scripts_dir));
  const std::string file = path::join(scripts_dir, script_file_name(name));
  if (!Env::default_env()->file_exists(file)) {
    return Status::not_found("no script " + file);
  }
  return file;
}

Result<CompiledScript> ScriptCompiler::compile(const std::string& source) const {
  Env* env = Env::default_env();
  DLNEST_ASSIGN_OR_RETURN(std::string text, env->read_file(source));
  std::string key_text = source + '\0' + text + '\0' + toolchain_.compiler;
  for (const std::string& f : toolchain_.flags) key_text += '\0' + f;
  const std::string stem = path::join(cache_dir_, path::base_name(source) + "-" + hex(fnv1a(key_text)));
  CompiledScript out;
  out.library = stem + ".so";
  const std::string deps_file = stem + ".d";
  const int64_t built = mtime_ns(out.library);
  if (built >= 0) {
    bool fresh = mtime_ns(deps_file) >= 0;
    for (const std::string& dep : read_deps(deps_file)) {
      const int64_t t = mtime_ns(dep);
      fresh = fresh && t >= 0 && t <= built;
    }
    if (fresh) {
      out.cached = true;
      return out;
    }
  }
  DLNEST_RETURN_IF_ERROR(env->create_dirs(cache_dir_));
  const std::string tmp = stem + ".tmp" + std::to_string(::getpid());
  std::vector<std::string> argv = {toolchain_.compiler};
  argv.insert(argv.end(), toolchain_.flags.begin(), toolchain_.flags.end());
  argv.insert(argv.end(), {"-include", toolchain_.pch_header, "-shared", "-MMD", "-MF",
                           tmp + ".d", "-MT", out.library, "-o", tmp + ".so", source});
  const auto start = std::chrono::steady_clock::now();
  DLNEST_ASSIGN_OR_RETURN(ProcessResult result, run_process(argv, path::parent(source)));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.exit_code != 0) {
    (void)env->remove_file(tmp + ".so");
    (void)env->remove_file(tmp + ".d");
    std::string output = result.output;
    if (output.size() > kMaxErrorOutput) output = output.substr(0, kMaxErrorOutput) + "\n...";
    return Status::invalid_argument(path::base_name(source) + " does not compile:\n" + output);
  }
  DLNEST_RETURN_IF_ERROR(env->rename_file(tmp + ".d", deps_file));
  DLNEST_RETURN_IF_ERROR(env->rename_file(tmp + ".so", out.library));
  return out;
}

Result<void*> load_experiment(const std::string& library) {
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = ::dlerror();
    return Status::invalid_argument("cannot load " + library + ": " + (err ? err : "unknown error"));
  }
  void* entry = ::dlsym(handle, "dlnest_experiment_v1");
  if (entry == nullptr) {
    return Status::not_found(library + " has no experiment entry point: end the script with "
                             "DLNEST_EXPERIMENT(your_function)");
  }
  return entry;
}

}  // namespace dlnest
