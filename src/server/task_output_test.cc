#include "server/task_output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "testing/temp_dir.h"

namespace dlnest {
namespace {

TEST(TaskOutputTest, ReadsFromAnOffsetOrTheTail) {
  testing::TempDir dir;
  const std::string file = dir.write("_output.txt", "epoch 1\nepoch 2\n");
  Result<OutputChunk> chunk = read_output_file(file, 6, 100);
  ASSERT_TRUE(chunk.is_ok()) << chunk.status().to_string();
  EXPECT_EQ(chunk->offset, 6);
  EXPECT_EQ(chunk->text, "1\nepoch 2\n");
  EXPECT_EQ(chunk->size, 16);
  chunk = read_output_file(file, std::nullopt, 8);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_EQ(chunk->offset, 8);
  EXPECT_EQ(chunk->text, "epoch 2\n");
}

TEST(TaskOutputTest, KeepsAnIncompleteCharacterForTheNextRead) {
  testing::TempDir dir;
  const std::string file = dir.write("_output.txt", "a\xc3\xa9");  // "aé"
  Result<OutputChunk> chunk = read_output_file(file, 0, 2);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_EQ(chunk->text, "a");
  chunk = read_output_file(file, std::nullopt, 1);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_EQ(chunk->text, "");
  EXPECT_EQ(chunk->offset, 3);
}

TEST(TaskOutputTest, TheTailStartsAtALineStart) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "line " + std::to_string(i) + " of the analyzer\n";
  const std::string file = dir.write("_output.txt", text);
  Result<OutputChunk> chunk = read_output_file(file, std::nullopt, 64 * 1024);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_GT(chunk->offset, 0);
  EXPECT_EQ(text[static_cast<size_t>(chunk->offset) - 1], '\n');
  EXPECT_EQ(chunk->text, text.substr(static_cast<size_t>(chunk->offset)));
  EXPECT_LE(chunk->text.size(), 64u * 1024);
  // A line longer than the chunk: its end is all there is.
  const std::string long_line = dir.write("long.txt", std::string(100, 'x') + "yz");
  chunk = read_output_file(long_line, std::nullopt, 10);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_EQ(chunk->text, "xxxxxxxxyz");
}

TEST(TaskOutputTest, StyledLinesEndEachLineWithANewlinePiece) {
  using Pieces = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(styled_lines("[App] loaded\nplain\n\nlast", "P", "T"), (Pieces{{"P", "[App] "},
                                                                           {"T", "loaded"},
                                                                           {"T", "\n"},
                                                                           {"T", "plain"},
                                                                           {"T", "\n"},
                                                                           {"T", ""},
                                                                           {"T", "\n"},
                                                                           {"T", "last"}}));
  EXPECT_EQ(styled_lines("[App] \n", "P", "T"), (Pieces{{"P", "[App] "}, {"T", "\n"}}));
  EXPECT_EQ(styled_lines("", "P", "T"), Pieces{});
}

TEST(TaskOutputTest, AMissingFileReadsAsEmpty) {
  testing::TempDir dir;
  const Result<OutputChunk> chunk = read_output_file(dir.file("_output.txt"), 0, 100);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_EQ(chunk->text, "");
  EXPECT_EQ(chunk->size, 0);
}

TEST(TaskOutputTest, RefusesAFifoWithoutBlocking) {
  testing::TempDir dir;
  const std::string fifo = dir.file("_output.txt");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const auto begin = std::chrono::steady_clock::now();
  auto read = std::async(std::launch::async, [&] { return read_output_file(fifo, 0, 100); });
  if (read.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    ADD_FAILURE() << "reading a FIFO blocked";
    const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // lets the open return
    read.wait();
    ::close(writer);
  }
  const Result<OutputChunk> chunk = read.get();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(), 0.5);
  ASSERT_FALSE(chunk.is_ok());
  EXPECT_EQ(chunk.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(chunk.status().message(), fifo + " is not a regular file");
}

TEST(TaskOutputTest, RefusesASymbolicLink) {
  testing::TempDir dir;
  const std::string secret = dir.write("secret.txt", "not for the task's readers\n");
  const std::string link = dir.file("_output.txt");
  ASSERT_EQ(::symlink(secret.c_str(), link.c_str()), 0);
  const Result<OutputChunk> chunk = read_output_file(link, 0, 100);
  ASSERT_FALSE(chunk.is_ok());
  EXPECT_EQ(chunk.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(chunk.status().message(), link + " is a symbolic link");
}

}  // namespace
}  // namespace dlnest
