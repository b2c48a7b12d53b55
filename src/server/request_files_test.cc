// The files a request names (a config, a save package's records) are read so that they cannot
// wedge or bloat the server: a device or a FIFO is refused at once, an error never quotes a file,
// and a package's record that leads out of the package is refused.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "dlnest/config.h"
#include "server/in_process_server_test_util.h"
#include "server/server.h"
#include "testing/temp_dir.h"
#include "testing/watchdog.h"

namespace dlnest {
namespace {

using testing::TempDir;
using Clock = std::chrono::steady_clock;

class RequestFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    testing::use_test_defaults(&options, dir_.file("state"));
    options.delay_s = 0.5;
    auto server = Server::start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }

  void TearDown() override {
    testing::Watchdog watchdog(
        20, "no answer");  // a request handler stuck on a file must fail the test, not hang it
    if (server_ != nullptr) server_->stop();
  }

  /// Posts `params` to `path`; the reply must be an error within 2 s. Returns its message.
  std::string error_of(const std::string& path, const httplib::Params& params) {
    testing::Watchdog watchdog(20, "no answer");
    const auto start = Clock::now();
    auto res = client_->Post(path.c_str(), params);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2)) << path;
    if (!res) {
      ADD_FAILURE() << path << " got no answer";
      return "";
    }
    const Json reply = Json::parse(res->body);
    EXPECT_EQ(reply.value("status", ""), "error") << res->body;
    return reply.value("error", "");
  }

  /// The server still answers.
  void expect_alive() {
    auto res = client_->Get("/get_server_info");
    ASSERT_TRUE(res);
    EXPECT_EQ(Json::parse(res->body).value("status", ""), "success") << res->body;
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(RequestFilesTest, DeviceAsConfigIsRefusedAtOnce) {
  EXPECT_NE(error_of("/run_train", {{"config_path", "/dev/zero"}}).find("/dev/zero"),
            std::string::npos);
  dir_.write("root.json", R"({"a": 1})");
  EXPECT_NE(
      error_of("/run_train", {{"config_path", dir_.file("root.json")}, {"freq_path", "/dev/zero"}})
          .find("/dev/zero"),
      std::string::npos);
  expect_alive();
}

TEST_F(RequestFilesTest, FifoAsConfigIsRefusedWithoutBlocking) {
  const std::string fifo = dir_.file("fifo.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(error_of("/run_train", {{"config_path", fifo}}).find(fifo), std::string::npos);
  dir_.write("parent.json", R"({"child_jsons": ["fifo.json"]})");
  EXPECT_NE(error_of("/run_train", {{"config_path", dir_.file("parent.json")}}).find(fifo),
            std::string::npos);
  expect_alive();
}

TEST_F(RequestFilesTest, AnErrorNamesTheFileButNeverQuotesIt) {
  const std::string file = dir_.write("shadow", "root:$6$secret-salt$hash:19000:0:99999:7:::\n");
  const std::string error = error_of("/run_train", {{"config_path", file}});
  EXPECT_EQ(error.rfind(file + ":1:", 0), 0u) << error;
  EXPECT_EQ(error.find("secret"), std::string::npos) << error;
  EXPECT_EQ(error.find("root:"), std::string::npos) << error;
  expect_alive();
}

TEST_F(RequestFilesTest, APackageRecordLeadingOutOfThePackageIsRefused) {
  const std::string outside = dir_.write("elsewhere/args.json", "{}");
  dir_.write("package/_package.json", "{}");
  ASSERT_EQ(::symlink(outside.c_str(), dir_.file("package/args.json").c_str()), 0);
  for (const char* path : {"/continue_train", "/analyze"}) {
    EXPECT_NE(error_of(path, {{"record_path", dir_.file("package")}, {"CPU", "True"}})
                  .find(dir_.file("package/args.json") + " leads out of"),
              std::string::npos)
        << path;
  }
  expect_alive();
}

}  // namespace
}  // namespace dlnest
