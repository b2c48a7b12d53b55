// The worker's output file: a save package cannot point it at another file or a FIFO.
#include "worker/output.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing/temp_dir.h"
#include "testing/watchdog.h"

namespace dlnest {
namespace {

TEST(WorkerOutputTest, ALinkAsOutputFileIsRefusedAndItsTargetUntouched) {
  testing::TempDir dir;
  const std::string target = dir.write("secret", "keep\n");
  const std::string output = dir.file("_output.txt");
  ASSERT_EQ(::symlink(target.c_str(), output.c_str()), 0);
  auto redirected = WorkerOutput::redirect(output, /*echo=*/false);
  ASSERT_FALSE(redirected.is_ok());
  EXPECT_NE(redirected.status().message().find("_output.txt is a symbolic link"), std::string::npos)
      << redirected.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 5);
}

TEST(WorkerOutputTest, AFifoAsOutputFileIsRefusedAtOnce) {
  testing::TempDir dir;
  const std::string output = dir.file("_output.txt");
  ASSERT_EQ(::mkfifo(output.c_str(), 0644), 0);
  testing::Watchdog watchdog(10, "the worker blocked on a FIFO");
  auto redirected = WorkerOutput::redirect(output, /*echo=*/false);
  ASSERT_FALSE(redirected.is_ok());
  EXPECT_NE(redirected.status().message().find("not a regular file"), std::string::npos)
      << redirected.status().message();
}

}  // namespace
}  // namespace dlnest
