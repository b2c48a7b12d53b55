// Measured GPU memory through a real server: NVML is the fake libnvidia-ml (loaded by the server
// and by this test, which sets what it answers), the tasks are real processes (a shell script
// standing in for the worker, with a child, in one session), the state a real database and the
// packages real folders. The sampled peak shows in the task info and the package, and
// memory_consumption=auto estimates from it.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "devices/probe_factory.h"
#include "devices/simulated_machine.h"
#include "devices/testdata/fake_nvml.h"
#include "dlnest/env.h"
#include "dlnest/save_package.h"
#include "ledger/reservation_ledger.h"
#include "server/memory_sampler.h"
#include "server/server.h"
#include "testing/scoped_env.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using testing::ScopedEnv;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr unsigned long long kMiB = 1ULL << 20;
constexpr unsigned long long kGiB = 1ULL << 30;

/// The fake NVML, opened by the test as the server opens it: one library, one state.
class FakeNvml {
 public:
  FakeNvml() : handle_(::dlopen(FAKE_NVML, RTLD_NOW)) {
    if (handle_ == nullptr) throw std::runtime_error(std::string("cannot load ") + FAKE_NVML);
  }
  ~FakeNvml() { ::dlclose(handle_); }
  template <typename Fn>
  Fn* get(const char* name) const {
    void* symbol = ::dlsym(handle_, name);
    if (symbol == nullptr) throw std::runtime_error(std::string("fake NVML lacks ") + name);
    return reinterpret_cast<Fn*>(symbol);
  }

 private:
  void* handle_;
};
#define FAKE(fn) fake_.get<decltype(fn)>(#fn)

class GpuMemoryTest : public ::testing::Test {
 protected:
  GpuMemoryTest()
      : nvml_env_(kNvmlLibraryEnv, FAKE_NVML),
        ledger_env_(kLedgerDirEnv, nullptr),
        sim_env_(kSimulatedGpusEnv, nullptr),
        machine_env_(kSimulatedMachineEnv, nullptr) {}

  void SetUp() override {
    ::setenv(kLedgerDirEnv, dir_.file("ledger").c_str(), 1);
    FAKE(fake_nvml_reset)();
    FAKE(fake_nvml_add_gpu)("Fake GPU", 24 * kGiB, 0);
    // The worker: its pid and a child's go to <task>.pids; it ends (0) once <task>.stop exists.
    worker_ = dir_.write("worker.sh",
                         "#!/bin/sh\n"
                         "/bin/sleep 600 &\n"
                         "echo \"$$ $!\" > \"" +
                             dir_.path() +
                             "/$DLNEST_TASK_ID.tmp\"\n"
                             "/bin/mv \"" +
                             dir_.path() + "/$DLNEST_TASK_ID.tmp\" \"" + dir_.path() +
                             "/$DLNEST_TASK_ID.pids\"\n"
                             "while [ ! -e \"" +
                             dir_.path() +
                             "/$DLNEST_TASK_ID.stop\" ]; do\n"
                             "  /bin/sleep 0.05\n"
                             "done\n"
                             "kill $!\n"
                             "exit 0\n");
    ASSERT_EQ(::chmod(worker_.c_str(), 0755), 0);
    ServerOptions options;
    options.port = 0;
    options.quiet = true;
    options.state_dir = dir_.file("state");
    options.delay_s = 0.2;
    options.memory_sample_s = 0.1;
    options.worker_path = worker_;
    options.end_tasks_on_exit = true;  // a test that fails half-way leaves no process
    auto server = Server::start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->stop();
  }

  /// A save package of the project in `save_root` "Saves", named `name`, with a checkpoint.
  std::string package(const std::string& name, int seed, int width) {
    const Json args = {{"save_root", dir_.file("Saves")},
                       {"root_file_path", dir_.path()},
                       {"seed", static_cast<unsigned>(seed)},
                       {"model", {{"width", width}}}};
    SavePackage package(args);
    Status saved = package.save_to_new_dir(PackageOptions().with_name(name).with_copy_files(false));
    EXPECT_TRUE(saved.is_ok()) << saved.message();
    EXPECT_TRUE(package.save_checkpoint("state").is_ok());
    return package.root();
  }

  Json post(const std::string& path, const httplib::Params& params) {
    auto res = client_->Post(path.c_str(), params);
    if (!res) return Json();
    return Json::parse(res->body);
  }

  /// Continues `package` with memory_consumption=`memory`; returns the task id.
  std::string continue_with(const std::string& package, const std::string& memory) {
    const Json reply =
        post("/continue_train", {{"record_path", package}, {"memory_consumption", memory}});
    EXPECT_EQ(reply.value("status", ""), "success") << reply;
    return reply.value("task_ID", "");
  }

  Json task(const std::string& id) {
    auto res = client_->Get("/get_task", httplib::Params{{"task_ID", id}}, httplib::Headers{});
    return res ? Json::parse(res->body)["info"] : Json();
  }

  /// Waits until `done(info)` holds for task `id`; returns its info.
  template <typename Done>
  Json wait_for(const std::string& id, Done done, const char* what, double timeout_s = 30) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    Json info;
    while (Clock::now() < deadline) {
      info = task(id);
      if (done(info)) return info;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << id << " never " << what << ": " << info.dump();
    return info;
  }

  /// The pids of task `id`'s script and its child, once it runs.
  std::pair<unsigned, unsigned> pids_of(const std::string& id) {
    const std::string file = dir_.file(id + ".pids");
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline && !Env::default_env()->file_exists(file)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::ifstream in(file);
    unsigned script = 0, child = 0;
    in >> script >> child;
    return {script, child};
  }

  void finish(const std::string& id) {
    dir_.write(id + ".stop", "");
    wait_for(
        id, [](const Json& t) { return t.value("status", "") == "Finished"; }, "finished");
  }

  Json package_record(const std::string& package) {
    Result<std::string> text = Env::default_env()->read_file(package + "/" + kPackageMemoryFile);
    return text.is_ok() ? Json::parse(*text, nullptr, /*allow_exceptions=*/false) : Json();
  }

  /// Waits until `done(record)` holds for the package's memory file (written after the state
  /// records the peak or the end); returns the record.
  template <typename Done>
  Json wait_for_package(const std::string& package, Done done, const char* what) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    Json record;
    while (Clock::now() < deadline) {
      record = package_record(package);
      if (record.is_object() && done(record)) return record;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << package << " never " << what << ": " << record.dump();
    return record;
  }

  FakeNvml fake_;
  TempDir dir_;
  ScopedEnv nvml_env_, ledger_env_, sim_env_, machine_env_;
  std::string worker_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(GpuMemoryTest, ThePeakIsSampledKeptAndUsedByAuto) {
  const std::string first_package = package("run1", 1, 64);
  const std::string second_package = package("run2", 2, 64);  // the same config, another seed
  const std::string other_package = package("wide", 3, 128);  // another config

  // No history: auto is the default.
  const std::string first = continue_with(first_package, "auto");
  Json info = task(first);
  EXPECT_EQ(info.value("memory_consumption", 0), -1);
  EXPECT_EQ(info.value("memory_source", ""),
            "auto: no peak recorded for this project and config; the default");
  EXPECT_EQ(info.value("peak_memory_mb", -2), 0);

  // The task's two processes hold 1000 + 2120 MB on the GPU; a process of someone else 5000.
  const auto [script, child] = pids_of(first);
  ASSERT_GT(script, 0u);
  ASSERT_GT(child, 0u);
  FAKE(fake_nvml_add_process)(0, 999999, 5000 * kMiB);
  FAKE(fake_nvml_add_process)(0, script, 1000 * kMiB);
  info = wait_for(
      first, [](const Json& t) { return t.value("peak_memory_mb", 0) == 1000; }, "saw 1000 MB");
  FAKE(fake_nvml_add_process)(0, child, 2120 * kMiB);
  info = wait_for(
      first, [](const Json& t) { return t.value("peak_memory_mb", 0) == 3120; }, "saw 3120 MB");
  EXPECT_EQ(info.value("status", ""), "Running");
  Json record = wait_for_package(
      first_package, [](const Json& r) { return r.value("peak_memory_mb", 0) == 3120; },
      "recorded 3120 MB");
  EXPECT_EQ(record.value("task_ID", ""), first);

  // Less later: the peak stays. Then the task ends, and the package says so.
  FAKE(fake_nvml_clear_processes)(0);
  FAKE(fake_nvml_add_process)(0, script, 10 * kMiB);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(task(first).value("peak_memory_mb", 0), 3120);
  finish(first);
  record = wait_for_package(
      first_package, [](const Json& r) { return r.value("status", "") == "Finished"; },
      "recorded the end");
  EXPECT_EQ(record.value("peak_memory_mb", 0), 3120);
  FAKE(fake_nvml_clear_processes)(0);

  // The same project and config: 3120 x 1.2 = 3744, rounded up to 3840.
  const std::string second = continue_with(second_package, "auto");
  info = task(second);
  EXPECT_EQ(info.value("memory_consumption", 0), 3840);
  EXPECT_EQ(info.value("memory_source", ""),
            "auto: peak 3120 MB of " + first + " x1.2, rounded up to 256 MB");
  pids_of(second);
  finish(second);

  // Another config has no history; a number given is used as it is.
  const std::string other = continue_with(other_package, "auto");
  info = task(other);
  EXPECT_EQ(info.value("memory_consumption", 0), -1);
  EXPECT_EQ(info.value("memory_source", ""),
            "auto: no peak recorded for this project and config; the default");
  finish(other);
  const std::string given = continue_with(other_package, "2000");
  info = task(given);
  EXPECT_EQ(info.value("memory_consumption", 0), 2000);
  EXPECT_EQ(info.value("memory_source", ""), "given");
  finish(given);
}

TEST_F(GpuMemoryTest, BadMemoryValuesAreRefusedWithAClearError) {
  const std::string p = package("run1", 1, 64);
  for (const char* bad : {"autox", "-5", "0", "lots"}) {
    const Json reply = post("/continue_train", {{"record_path", p}, {"memory_consumption", bad}});
    EXPECT_EQ(reply.value("status", ""), "error") << bad;
    EXPECT_EQ(reply.value("error", ""),
              std::string("memory_consumption must be a positive number of MB, -1 (the default) "
                          "or auto; got \"") +
                  bad + "\"");
  }
  const Json analysis = post("/analyze", {{"record_path", p}, {"memory_consumption", "autox"}});
  EXPECT_EQ(analysis.value("status", ""), "error");
  EXPECT_NE(analysis.value("error", "").find("memory_consumption must be"), std::string::npos);
}

}  // namespace
}  // namespace dlnest
