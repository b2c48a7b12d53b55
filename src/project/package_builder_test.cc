// Building save packages for real (CMake, ninja, the compiler) from the toy project: each package
// gets a plugin built from its own sources, an unchanged resubmit reuses the last plugin, builds
// of one project take turns, and `dlnest build-package` reports the compiler's first error.
// The suite builds one project and its copy cold and shares them across the tests.
#include "project/package_builder.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "env/path.h"
#include "process/subprocess.h"
#include "project/project_builder.h"
#include "task/train_package.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace dlnest {
namespace {

using testing::TempDir;

std::string read(const std::string& file) {
  auto data = Env::default_env()->read_file(file);
  return data.is_ok() ? *data : "";
}

void append(const std::string& file, const std::string& text) {
  std::ofstream(file, std::ios::app) << text;
}

/// Replaces the first `from` in `file` by `to`.
void replace_in(const std::string& file, const std::string& from, const std::string& to) {
  std::string text = read(file);
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from << " in " << file;
  text.replace(at, from.size(), to);
  std::ofstream(file, std::ios::trunc) << text;
}

int64_t mtime_ns(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return -1;
  return st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

/// True when `line` is the compiler's error for `static_assert(false, "broken on purpose")`, in
/// GCC's or clang's words.
bool is_broken_on_purpose(const std::string& line) {
  return line.find(": error: static assertion failed: broken on purpose") != std::string::npos ||
         line.find(": error: static_assert failed \"broken on purpose\"") != std::string::npos;
}

/// The marker the toy life cycle gets, so that a plugin shows which sources it was built from.
std::string marker_code(const std::string& marker) {
  return "extern \"C\" const char* toy_marker() { return \"" + marker + "\"; }\n";
}

class PackageBuilderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    ASSERT_TRUE(copy_tree(Env::default_env(), TOY_PROJECT_DIR, project()).is_ok());
    append(life_cycle(project()), marker_code("marker:alpha"));
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string project() { return dir_->file("p"); }
  static std::string life_cycle(const std::string& project) {
    return path::join(project, "toy_life_cycle.cpp");
  }
  static std::string cached_plugin(const std::string& project) {
    return path::join(project, ".dlnest/build/dlnest_plugin.so");
  }

  /// A new package of `project`, as a submit makes it.
  static CreatedPackage make_package(const std::string& project) {
    TrainSubmission submission;
    submission.config_path = path::join(project, "root_config.json");
    auto made = create_train_package(submission);
    EXPECT_TRUE(made.is_ok()) << made.status().to_string();
    return made.is_ok() ? *made : CreatedPackage{};
  }

  /// build_package() with the output collected in `output`.
  static Result<std::string> build(const CreatedPackage& package, std::string* output) {
    BuildOptions options;
    options.dlnest_cmake_dir = default_dlnest_cmake_dir();
    options.output = [output](std::string_view text) { output->append(text); };
    return build_package(package.package_dir, package.project_dir, options);
  }

  /// Builds a new package of `project`; fails the test when the build fails.
  static std::string build_ok(const std::string& project, std::string* output = nullptr) {
    std::string ignored;
    const CreatedPackage package = make_package(project);
    auto plugin = build(package, output != nullptr ? output : &ignored);
    EXPECT_TRUE(plugin.is_ok()) << plugin.status().message();
    return plugin.is_ok() ? *plugin : "";
  }

  static TempDir* dir_;
};

TempDir* PackageBuilderTest::dir_ = nullptr;

TEST_F(PackageBuilderTest, ACopiedProjectBuildsFromItsOwnSources) {
  const std::string first = build_ok(project());
  EXPECT_NE(read(first).find("marker:alpha"), std::string::npos);

  // The copy brings .dlnest/ along, configured for the original.
  const std::string copy = dir_->file("p2");
  ASSERT_EQ(run_process({"cp", "-r", project(), copy}, "")->exit_code, 0);
  replace_in(life_cycle(copy), "marker:alpha", "marker:beta");
  std::string output;
  const std::string second = build_ok(copy, &output);
  EXPECT_NE(output.find("configuring it again"), std::string::npos) << output;
  EXPECT_NE(read(second).find("marker:beta"), std::string::npos);
  EXPECT_EQ(read(second).find("marker:alpha"), std::string::npos);

  append(life_cycle(copy), "static_assert(false, \"broken on purpose\");\n");
  const CreatedPackage broken = make_package(copy);
  output.clear();
  auto plugin = build(broken, &output);
  ASSERT_FALSE(plugin.is_ok());
  const std::string headline = build_error_headline(plugin.status());
  EXPECT_EQ(headline.rfind("toy_life_cycle.cpp:", 0), 0u) << headline;
  EXPECT_TRUE(is_broken_on_purpose(headline)) << headline;
  EXPECT_NE(plugin.status().message().find("building the package failed"), std::string::npos);
  EXPECT_FALSE(
      Env::default_env()->file_exists(path::join(broken.package_dir, SavePackage::kPluginFile)));
  // The original is untouched by all this.
  EXPECT_NE(read(build_ok(project())).find("marker:alpha"), std::string::npos);
}

TEST_F(PackageBuilderTest, AnUnchangedResubmitDoesNotRunTheCompiler) {
  build_ok(project());
  const std::string ninja_log = read(path::join(project(), ".dlnest/build/.ninja_log"));
  const int64_t built_at = mtime_ns(cached_plugin(project()));
  std::string output;
  const auto start = std::chrono::steady_clock::now();
  const std::string plugin = build_ok(project(), &output);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);
  EXPECT_NE(output.find("[build] up to date, reusing"), std::string::npos) << output;
  EXPECT_EQ(output.find("[build] compiling"), std::string::npos) << output;
  EXPECT_EQ(read(path::join(project(), ".dlnest/build/.ninja_log")), ninja_log);
  EXPECT_EQ(mtime_ns(cached_plugin(project())), built_at);
  EXPECT_EQ(read(plugin), read(cached_plugin(project())));
  std::cout << "[ measured ] unchanged resubmit built in " << seconds << " s\n";
}

TEST_F(PackageBuilderTest, AChangedFileRebuildsOnlyThatFile) {
  build_ok(project());
  append(life_cycle(project()), "// changed\n");
  std::string output;
  build_ok(project(), &output);
  EXPECT_EQ(count(output, "Building CXX object"), 1u) << output;
  EXPECT_NE(output.find("toy_life_cycle.cpp.o"), std::string::npos) << output;
  EXPECT_EQ(output.find("configuring"), std::string::npos) << output;
}

TEST_F(PackageBuilderTest, BuildsOfOneProjectTakeTurns) {
  build_ok(project());
  replace_in(life_cycle(project()), "marker:alpha", "marker:gamma");
  const CreatedPackage a = make_package(project());
  const CreatedPackage b = make_package(project());
  std::string out_a, out_b;
  Result<std::string> plugin_a = std::string();
  Result<std::string> plugin_b = std::string();
  std::thread ta([&] { plugin_a = build(a, &out_a); });
  std::thread tb([&] { plugin_b = build(b, &out_b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(plugin_a.is_ok()) << plugin_a.status().message();
  ASSERT_TRUE(plugin_b.is_ok()) << plugin_b.status().message();
  // One compiled while the other waited, then found the plugin up to date.
  EXPECT_EQ(count(out_a + out_b, "Building CXX object"), 1u) << out_a << "\n---\n" << out_b;
  EXPECT_EQ(count(out_a + out_b, "[build] waiting for another build"), 1u) << out_a << out_b;
  EXPECT_EQ(count(out_a + out_b, "[build] up to date, reusing"), 1u) << out_a << out_b;
  EXPECT_NE(read(*plugin_a).find("marker:gamma"), std::string::npos);
  EXPECT_NE(read(*plugin_b).find("marker:gamma"), std::string::npos);
  replace_in(life_cycle(project()), "marker:gamma", "marker:alpha");
}

TEST_F(PackageBuilderTest, TheBuildPackageCommandReportsTheFirstCompileError) {
  const std::string error_file = dir_->file("error.txt");
  const std::string exit_file = dir_->file("exit.txt");
  auto run = [&](const CreatedPackage& package) {
    auto r = run_process(
        {std::string(DLNEST_BIN_DIR) + "/dlnest", "build-package", "--package", package.package_dir,
         "--project", package.project_dir, "--cmake-dir", default_dlnest_cmake_dir(),
         "--error-file", error_file, "--exit-file", exit_file},
        "");
    EXPECT_TRUE(r.is_ok());
    return r.is_ok() ? *r : ProcessResult{};
  };
  const CreatedPackage good = make_package(project());
  ProcessResult r = run(good);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read(exit_file), "0\n");
  EXPECT_FALSE(Env::default_env()->file_exists(error_file));
  EXPECT_TRUE(
      Env::default_env()->file_exists(path::join(good.package_dir, SavePackage::kPluginFile)));
  // The build stage's progress, left in the package.
  const Json built =
      Json::parse(read(path::join(good.package_dir, "progress.json")), nullptr, false);
  EXPECT_EQ(built["stage"], "build") << built;
  EXPECT_EQ(built["phase"], "built") << built;
  EXPECT_EQ(built["fraction"], 1.0) << built;
  EXPECT_TRUE(built["updated_at"].is_number()) << built;

  const std::string original = read(life_cycle(project()));
  append(life_cycle(project()), "static_assert(false, \"broken on purpose\");\n");
  const size_t line = count(read(life_cycle(project())), "\n");
  const CreatedPackage bad = make_package(project());
  std::ofstream(life_cycle(project()), std::ios::trunc) << original;
  r = run(bad);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(read(exit_file), "1\n");
  const std::string error = read(error_file);
  EXPECT_EQ(error.rfind("toy_life_cycle.cpp:" + std::to_string(line) + ":", 0), 0u) << error;
  EXPECT_TRUE(is_broken_on_purpose(error)) << error;
  EXPECT_EQ(count(error, "\n"), 1u) << error;
  EXPECT_NE(r.output.find("[build] compiling"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dlnest: error: " + error), std::string::npos) << r.output;
  const Json failed =
      Json::parse(read(path::join(bad.package_dir, "progress.json")), nullptr, false);
  EXPECT_EQ(failed["stage"], "failed") << failed;
  EXPECT_TRUE(failed["total"].is_number()) << "ninja's count was followed: " << failed;
}

TEST_F(PackageBuilderTest, PackagesCompileAgainstThePrecompiledHeader) {
  build_ok(project());
  const InstallLayout layout = install_layout();
  const std::string ninja = read(path::join(project(), ".dlnest/build/build.ninja"));
  const std::string include = "-include " + path::join(layout.toolchain_dir, "dlnest_script.h");
  EXPECT_EQ(count(ninja, include), 2u) << "the toy project's two sources, not its ABI stamp";
  Env* env = Env::default_env();
  EXPECT_TRUE(env->file_exists(path::join(layout.toolchain_dir, "dlnest_script.h.pch")) ||
              env->file_exists(path::join(layout.toolchain_dir, "dlnest_script.h.gch")));
}

TEST_F(PackageBuilderTest, ANewSourceNeedsOneEdit) {
  const std::string copy = dir_->file("globbed");
  ASSERT_TRUE(copy_tree(Env::default_env(), TOY_PROJECT_DIR, copy).is_ok());
  replace_in(path::join(copy, "CMakeLists.txt"), "SOURCES toy_runner.cpp toy_life_cycle.cpp",
             "SOURCE_DIRS .");
  build_ok(copy);
  std::ofstream(path::join(copy, "extra.cpp")) << marker_code("marker:extra");
  replace_in(path::join(copy, "root_config.json"), "\"other_file_paths\": []",
             "\"other_file_paths\": [\"./extra.cpp\"]");
  EXPECT_NE(read(build_ok(copy)).find("marker:extra"), std::string::npos);
}

TEST_F(PackageBuilderTest, EditorsFindTheProjectsCompileDatabase) {
  BuildOptions options;
  options.dlnest_cmake_dir = default_dlnest_cmake_dir();
  ASSERT_TRUE(write_compile_commands(project(), options).is_ok());
  const std::string database = read(path::join(project(), "compile_commands.json"));
  EXPECT_NE(database.find("\"file\": \"" + path::join(project(), "toy_runner.cpp") + "\""),
            std::string::npos)
      << database;
  // Again, as after adding a folder: the link is replaced.
  EXPECT_TRUE(write_compile_commands(project(), options).is_ok());
}

/// Processes whose command line or working folder mentions `text`.
std::vector<std::string> processes_mentioning(const std::string& text) {
  std::vector<std::string> found;
  auto pids = Env::default_env()->list_dir("/proc");
  if (!pids.is_ok()) return found;
  for (const std::string& pid : *pids) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read("/proc/" + pid + "/cmdline");
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    char cwd[4096];
    const ssize_t n = ::readlink(("/proc/" + pid + "/cwd").c_str(), cwd, sizeof cwd);
    if (n > 0) cmdline += " (in " + std::string(cwd, static_cast<size_t>(n)) + ")";
    if (cmdline.find(text) != std::string::npos) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

/// Waits up to `seconds` for `done`; returns whether it came true.
bool wait_for(const std::function<bool()>& done, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST_F(PackageBuilderTest, StoppingTheBuildsProcessGroupStopsTheCompilers) {
  build_ok(project());
  const std::string runner = path::join(project(), "toy_runner.cpp");
  append(runner, "// changed\n");  // a long compile: the runner includes libtorch
  const CreatedPackage package = make_package(project());
  // Like the supervisor: the build in a process group of its own, its output in a file.
  const std::string command = "exec '" + std::string(DLNEST_BIN_DIR) +
                              "/dlnest' build-package --package '" + package.package_dir +
                              "' --project '" + package.project_dir + "' > '" +
                              dir_->file("stopped.txt") + "' 2>&1";
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, "/bin/sh", nullptr, &attr, const_cast<char**>(argv), environ), 0);
  posix_spawnattr_destroy(&attr);
  const std::string cache = project() + "/.dlnest";
  ASSERT_TRUE(
      wait_for([&] { return !processes_mentioning(cache + "/stage/toy_runner.cpp").empty(); }, 120))
      << read(dir_->file("stopped.txt"));
  ASSERT_EQ(::kill(-pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(wait_for([&] { return processes_mentioning(cache).empty(); }, 5))
      << processes_mentioning(cache).front();
  // The next build finishes what the stopped one began.
  EXPECT_NE(read(build_ok(project())).find("marker:alpha"), std::string::npos);
}

}  // namespace
}  // namespace dlnest
