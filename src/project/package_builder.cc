#include "project/package_builder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "process/subprocess.h"
#include "project/source_stage.h"

namespace dlnest {

namespace {

/// Changes whenever the way a package is built changes, so that older cached builds are not
/// taken for current ones.
constexpr const char* kRecipe = "dlnest package build 2: cmake -G Ninja, Release, DLNestToolchain";
constexpr const char* kToolchainFile = "DLNestToolchain.cmake";
constexpr const char* kDigestFile = "dlnest_sources.digest";
constexpr size_t kMaxErrorOutput = 64 * 1024;
constexpr const char* kCompileCommands = "compile_commands.json";

/// The build cache of one project, in `<project>/.dlnest`.
struct BuildCache {
  explicit BuildCache(const std::string& project_dir)
      : root(path::join(path::absolute(project_dir), ".dlnest")),
        stage(path::join(root, "stage")),
        build(path::join(root, "build")),
        lock(path::join(root, "build.lock")),
        digest(path::join(build, kDigestFile)),
        plugin(path::join(build, SavePackage::kPluginFile)) {}

  std::string root;    ///< .dlnest
  std::string stage;   ///< the sources of the package being built
  std::string build;   ///< CMake's build folder, configured for `stage`
  std::string lock;    ///< flocked while a build of this project runs
  std::string digest;  ///< the build key of the plugin in `build`, written after a good build
  std::string plugin;  ///< what dlnest_add_project() makes
};

/// An exclusive flock on a file, held until destruction. Not inherited by the build's children.
class BuildLock {
 public:
  BuildLock() = default;
  BuildLock(const BuildLock&) = delete;
  BuildLock& operator=(const BuildLock&) = delete;
  ~BuildLock() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// Blocks while another process (or another BuildLock) holds `file`; `on_wait` is called once
  /// before blocking.
  Status acquire(const std::string& file, const std::function<void()>& on_wait) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::io_error("cannot open " + file + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return Status::ok();
    if (errno == EWOULDBLOCK) on_wait();
    int rc;
    while ((rc = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0) return Status::io_error("cannot lock " + file + ": " + std::strerror(errno));
    return Status::ok();
  }

 private:
  int fd_ = -1;
};

void say(const BuildOptions& options, const std::string& line) {
  if (options.output) options.output(line + "\n");
}

/// `p` with symbolic links resolved, or normalized when it does not exist.
std::string real_path(const std::string& p) {
  char* resolved = ::realpath(p.c_str(), nullptr);
  if (resolved == nullptr) return path::normalize(path::absolute(p));
  std::string out = resolved;
  std::free(resolved);
  return out;
}

/// The value of `key` in a CMakeCache.txt ("KEY:TYPE=value"), or "".
std::string cache_entry(const std::string& cache_text, const std::string& key) {
  const std::string prefix = key + ":";
  size_t start = 0;
  while (start < cache_text.size()) {
    size_t end = cache_text.find('\n', start);
    if (end == std::string::npos) end = cache_text.size();
    const std::string line = cache_text.substr(start, end - start);
    const size_t eq = line.find('=');
    if (line.compare(0, prefix.size(), prefix) == 0 && eq != std::string::npos) {
      return line.substr(eq + 1);
    }
    start = end + 1;
  }
  return "";
}

/// The files a CMake export names as IMPORTED_LOCATION (the SDK library); an installed export's
/// ${_IMPORT_PREFIX} is the prefix three folders above `cmake_dir`.
std::vector<std::string> imported_locations(const std::string& text, const std::string& cmake_dir) {
  const std::string import_prefix = "${_IMPORT_PREFIX}";
  std::vector<std::string> files;
  const std::string key = "IMPORTED_LOCATION";
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    const size_t open = text.find('"', at);
    const size_t close = open == std::string::npos ? open : text.find('"', open + 1);
    if (close == std::string::npos || text.find('\n', at) < open) continue;
    std::string file = text.substr(open + 1, close - open - 1);
    if (file.compare(0, import_prefix.size(), import_prefix) == 0) {
      file.replace(0, import_prefix.size(), path::parent(path::parent(path::parent(cmake_dir))));
    }
    files.push_back(file);
  }
  return files;
}

/// Adds a file's size and modification time to `digest` (missing: both -1).
void add_file_stamp(Digest& digest, const std::string& file) {
  struct stat st {};
  const bool ok = ::stat(file.c_str(), &st) == 0;
  digest.add(file)
      .add(static_cast<uint64_t>(ok ? st.st_size : -1))
      .add(static_cast<uint64_t>(ok ? st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec : -1));
}

/// The key of a plugin: the recipe, the DLNest cmake folder (its DLNest*.cmake files and the
/// stamps of the SDK libraries they import) and the digest of the staged sources.
Result<std::string> build_key(Env* env, const std::string& cmake_dir,
                              const std::string& sources_digest) {
  if (!env->file_exists(path::join(cmake_dir, "DLNestConfig.cmake"))) {
    return Status::not_found("no DLNestConfig.cmake in \"" + cmake_dir +
                             "\" (set DLNEST_CMAKE_DIR to the folder that has it)");
  }
  Digest digest;
  digest.add(kRecipe).add(real_path(cmake_dir));
  DLNEST_ASSIGN_OR_RETURN(std::vector<std::string> names, env->list_dir(cmake_dir));
  for (const std::string& name : names) {
    if (name.compare(0, 6, "DLNest") != 0 || name.size() < 12 ||
        name.compare(name.size() - 6, 6, ".cmake") != 0) {
      continue;
    }
    DLNEST_ASSIGN_OR_RETURN(std::string text, env->read_file(path::join(cmake_dir, name)));
    digest.add(name).add(text);
    for (const std::string& library : imported_locations(text, cmake_dir)) {
      add_file_stamp(digest, library);
    }
  }
  return digest.add(sources_digest).hex();
}

/// `line` with the stage folder taken out of the paths it names, so they read relative to the
/// package.
std::string relative_to_stage(std::string line, const BuildCache& cache) {
  for (const std::string& stage : {cache.stage, real_path(cache.stage)}) {
    const std::string prefix = stage + "/";
    for (size_t at = line.find(prefix); at != std::string::npos; at = line.find(prefix, at)) {
      line.erase(at, prefix.size());
    }
  }
  return line;
}

/// The first line of `output` holding `marker`, or "".
std::string first_line_with(const std::string& output, const std::string& marker) {
  const size_t at = output.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = output.rfind('\n', at);
  const size_t begin = start == std::string::npos ? 0 : start + 1;
  return output.substr(begin, output.find('\n', at) - begin);
}

/// The error of a failed build step: the compiler's first error line (else CMake's), then
/// the step and the tail of its output.
Status build_error(const ProcessResult& result, const std::string& what, const BuildCache& cache) {
  std::string output = result.output;
  if (output.size() > kMaxErrorOutput) {
    output = "...\n" + output.substr(output.size() - kMaxErrorOutput);
  }
  const std::string failed =
      what + " failed (exit code " + std::to_string(result.exit_code) + "):\n" + output;
  std::string headline = first_line_with(result.output, "error:");
  if (headline.empty()) headline = first_line_with(result.output, "CMake Error");
  if (headline.empty()) return Status::invalid_argument(failed);
  return Status::invalid_argument(relative_to_stage(headline, cache) + "\n" + failed);
}

/// Runs one step of the build in this process's group, so that whoever stops the build stops
/// CMake, ninja and the compilers with it.
Status run_step(const std::vector<std::string>& argv, const std::string& what,
                const BuildCache& cache, const BuildOptions& options) {
  auto result = run_process(argv, "", options.output, ProcessGroup::kInherit);
  if (!result.is_ok()) return result.status();
  if (result->exit_code == 0) return Status::ok();
  return build_error(*result, what, cache);
}

/// The toolchain file DLNest's CMake package has for projects, or "" when it has none.
std::string toolchain_file(Env* env, const BuildOptions& options) {
  const std::string file = path::join(options.dlnest_cmake_dir, kToolchainFile);
  return env->file_exists(file) ? file : "";
}

/// Removes the build folder when it was configured for another source folder (the project was
/// copied, moved or renamed), against another DLNest or with another toolchain.
Status drop_foreign_build(Env* env, const BuildCache& cache, const BuildOptions& options) {
  const std::string cache_file = path::join(cache.build, "CMakeCache.txt");
  if (!env->file_exists(cache_file)) return Status::ok();
  DLNEST_ASSIGN_OR_RETURN(std::string text, env->read_file(cache_file));
  const std::string home = cache_entry(text, "CMAKE_HOME_DIRECTORY");
  const std::string dlnest = cache_entry(text, "DLNest_DIR");
  std::string reason;
  if (real_path(home) != real_path(cache.stage)) {
    reason = "was configured for " + home;
  } else if (real_path(dlnest) != real_path(options.dlnest_cmake_dir)) {
    reason = "was configured against DLNest_DIR=" + dlnest;
  } else if (cache_entry(text, "CMAKE_TOOLCHAIN_FILE") != toolchain_file(env, options)) {
    reason = "was configured with another toolchain";
  }
  if (reason.empty()) return Status::ok();
  say(options, "[build] " + cache.build + " " + reason + "; configuring it again");
  return env->remove_tree(cache.build);
}

/// The command that configures the project in `source` into `build` with DLNest's toolchain.
std::vector<std::string> configure_command(Env* env, const std::string& source,
                                           const std::string& build, const BuildOptions& options) {
  std::vector<std::string> argv = {"cmake", "-S", source, "-B", build, "-G", "Ninja"};
  argv.push_back("-DCMAKE_BUILD_TYPE=Release");
  argv.push_back("-DDLNest_DIR=" + options.dlnest_cmake_dir);
  const std::string toolchain = toolchain_file(env, options);
  if (!toolchain.empty()) argv.push_back("-DCMAKE_TOOLCHAIN_FILE=" + toolchain);
  return argv;
}

/// Configures (when needed) and builds the staged sources; records `key` once the plugin is made.
Status compile(Env* env, const BuildCache& cache, const std::string& key,
               const BuildOptions& options) {
  DLNEST_RETURN_IF_ERROR(drop_foreign_build(env, cache, options));
  // An interrupted or failed build must never pass for the last good one.
  if (env->file_exists(cache.digest)) DLNEST_RETURN_IF_ERROR(env->remove_file(cache.digest));
  if (!env->file_exists(path::join(cache.build, "build.ninja"))) {
    say(options, "[build] configuring " + cache.stage + " in " + cache.build);
    DLNEST_RETURN_IF_ERROR(run_step(configure_command(env, cache.stage, cache.build, options),
                                    "configuring the package", cache, options));
  }
  say(options, "[build] compiling in " + cache.build);
  DLNEST_RETURN_IF_ERROR(
      run_step({"cmake", "--build", cache.build}, "building the package", cache, options));
  if (!env->file_exists(cache.plugin)) {
    return Status::not_found("the build made no " + cache.plugin +
                             " (does CMakeLists.txt call dlnest_add_project?)");
  }
  return write_file_atomically(env, cache.digest, key + "\n");
}

bool is_up_to_date(Env* env, const BuildCache& cache, const std::string& key) {
  auto recorded = env->read_file(cache.digest);
  return recorded.is_ok() && *recorded == key + "\n" && env->file_exists(cache.plugin);
}

/// Stages the package's sources and brings the plugin in the cache up to date with them.
Status update_cache(Env* env, const std::string& package, const BuildCache& cache,
                    const BuildOptions& options) {
  DLNEST_ASSIGN_OR_RETURN(StageSummary staged, stage_package(env, package, cache.stage));
  say(options, "[build] staged " + std::to_string(staged.files) + " files of " + package + " in " +
                   cache.stage + " (" + std::to_string(staged.written) + " written, " +
                   std::to_string(staged.removed) + " removed)");
  DLNEST_ASSIGN_OR_RETURN(std::string key, build_key(env, options.dlnest_cmake_dir, staged.digest));
  if (!is_up_to_date(env, cache, key)) return compile(env, cache, key, options);
  say(options, "[build] up to date, reusing " + cache.plugin);
  return Status::ok();
}

/// Copies the plugin into the package under a temporary name, then renames it into place.
Result<std::string> install_plugin(Env* env, const BuildCache& cache, const std::string& package) {
  const std::string target = path::join(package, SavePackage::kPluginFile);
  const std::string tmp = target + std::string(kTempSuffix);
  Status s = copy_file(env, cache.plugin, tmp);
  if (s.is_ok()) s = env->rename_file(tmp, target);
  if (!s.is_ok()) {
    env->remove_file(tmp);
    return s;
  }
  return target;
}

}  // namespace

Result<std::string> build_package(const std::string& package_dir, const std::string& project_dir,
                                  const BuildOptions& options) {
  Env* env = Env::default_env();
  const std::string package = path::absolute(package_dir);
  if (!env->file_exists(path::join(package, "CMakeLists.txt"))) {
    return Status::not_found("save package " + package + " has no CMakeLists.txt");
  }
  BuildOptions resolved = options;
  resolved.dlnest_cmake_dir = path::absolute(options.dlnest_cmake_dir);
  const BuildCache cache(project_dir);
  DLNEST_RETURN_IF_ERROR(env->create_dirs(cache.root));
  BuildLock lock;
  DLNEST_RETURN_IF_ERROR(lock.acquire(cache.lock, [&] {
    say(options, "[build] waiting for another build of " + path::parent(cache.root));
  }));
  DLNEST_RETURN_IF_ERROR(update_cache(env, package, cache, resolved));
  DLNEST_ASSIGN_OR_RETURN(std::string plugin, install_plugin(env, cache, package));
  say(options, "[build] plugin " + plugin);
  return plugin;
}

Status write_compile_commands(const std::string& project_dir, const BuildOptions& options) {
  Env* env = Env::default_env();
  BuildOptions resolved = options;
  resolved.dlnest_cmake_dir = path::absolute(options.dlnest_cmake_dir);
  const std::string project = path::absolute(project_dir);
  const BuildCache cache(project);
  const std::string ide = path::join(cache.root, "ide");
  std::vector<std::string> argv = configure_command(env, project, ide, resolved);
  argv.push_back("-DCMAKE_EXPORT_COMPILE_COMMANDS=ON");
  DLNEST_RETURN_IF_ERROR(run_step(argv, "configuring the project for editors", cache, resolved));
  const std::string link = path::join(project, kCompileCommands);
  struct stat st {};
  if (::lstat(link.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) ::unlink(link.c_str());
  const std::string target = ".dlnest/ide/" + std::string(kCompileCommands);
  if (::symlink(target.c_str(), link.c_str()) != 0) {
    return Status::io_error("cannot link " + link + ": " + std::strerror(errno));
  }
  return Status::ok();
}

std::string build_error_headline(const Status& status) {
  const std::string& message = status.message();
  return message.substr(0, message.find('\n'));
}

}  // namespace dlnest
