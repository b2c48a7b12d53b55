// metrics.jsonl and progress.json read for the dashboard: incremental, bounded, hostile files.
#include "dashboard/package_metrics.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "dashboard/dashboard.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

using dlnest::testing::TempDir;

const char* kStep = R"({"kind":"step","step":1,"epoch":0,"time":5.5,"values":{"loss":0.5}})";
const char* kEpoch = R"({"kind":"epoch","epoch":0,"step":2,"time":6,"values":{"acc":0.9}})";

TEST(PackageMetricsTest, MissingFileReadsAsNoRecords) {
  TempDir dir;
  auto r = read_metrics(dir.path(), 0, kDefaultMetricsBytes);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r.value()["records"].size(), 0u);
  EXPECT_EQ(r.value()["next_offset"], 0);
}

TEST(PackageMetricsTest, ReadsWholeLinesFromOffset) {
  TempDir dir;
  const std::string two = std::string(kStep) + "\n" + kEpoch + "\n";
  dir.write("metrics.jsonl", two + R"({"kind":"step","st)");
  auto r = read_metrics(dir.path(), 0, kDefaultMetricsBytes);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Json& reply = r.value();
  ASSERT_EQ(reply["records"].size(), 2u);
  EXPECT_EQ(reply["records"][0]["kind"], "step");
  EXPECT_EQ(reply["records"][0]["values"]["loss"], 0.5);
  EXPECT_EQ(reply["records"][1]["kind"], "epoch");
  EXPECT_EQ(reply["records"][1]["step"], 2);
  EXPECT_EQ(reply["next_offset"], static_cast<int64_t>(two.size()));  // not the partial line
  auto again = read_metrics(dir.path(), reply["next_offset"].get<int64_t>(), kDefaultMetricsBytes);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again.value()["records"].size(), 0u);
  EXPECT_EQ(again.value()["next_offset"], static_cast<int64_t>(two.size()));
}

TEST(PackageMetricsTest, BoundedByMaxBytes) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += std::string(kStep) + "\n";
  dir.write("metrics.jsonl", text);
  const size_t line = std::string(kStep).size() + 1;
  int64_t offset = 0;
  size_t records = 0;
  for (int reads = 0; offset < static_cast<int64_t>(text.size()); ++reads) {
    ASSERT_LT(reads, 100);
    auto r = read_metrics(dir.path(), offset, line * 7 + 3);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value()["records"].size(), 7u) << "at offset " << offset;
    records += r.value()["records"].size();
    offset = r.value()["next_offset"].get<int64_t>();
    if (records == 98) break;
  }
  EXPECT_EQ(records, 98u);
}

TEST(PackageMetricsTest, KeepsOnlyRecordFieldsAndNumbers) {
  TempDir dir;
  dir.write("metrics.jsonl",
            "not json\n[1,2]\n{\"kind\":\"other\"}\n\n"
            R"({"kind":"step","step":"x","values":{"<img src=x onerror=alert(1)>":1,"s":"text",)"
            R"("o":{"a":1}},"extra":"dropped"})"
            "\n");
  auto r = read_metrics(dir.path(), 0, kDefaultMetricsBytes);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value()["skipped"], 3);
  ASSERT_EQ(r.value()["records"].size(), 1u);
  const Json& record = r.value()["records"][0];
  EXPECT_TRUE(record["step"].is_null());
  EXPECT_FALSE(record.contains("extra"));
  EXPECT_EQ(record["values"]["<img src=x onerror=alert(1)>"], 1);  // the page shows it as text
  EXPECT_TRUE(record["values"]["s"].is_null());
  EXPECT_TRUE(record["values"]["o"].is_null());
}

TEST(PackageMetricsTest, LineLongerThanARead) {
  TempDir dir;
  dir.write("metrics.jsonl", std::string(1000, 'x') + "\n" + kStep + "\n");
  auto r = read_metrics(dir.path(), 0, 100);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value()["skipped"], 1);
  EXPECT_EQ(r.value()["next_offset"], 100);  // the page moves on instead of asking forever
}

TEST(PackageMetricsTest, FifoIsRefusedAtOnce) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("metrics.jsonl").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(dir.file("progress.json").c_str(), 0600), 0);
  auto r = read_metrics(dir.path(), 0, kDefaultMetricsBytes);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("is not a regular file"), std::string::npos);
  EXPECT_FALSE(read_progress(dir.path()).is_ok());
}

TEST(PackageMetricsTest, Progress) {
  TempDir dir;
  auto none = read_progress(dir.path());
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none.value().is_null());
  dir.write("progress.json", R"({"stage":"train","epoch":1,"epochs":3,"step":5})");
  auto p = read_progress(dir.path());
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p.value()["epochs"], 3);
  dir.write("progress.json", "secret-content {");
  auto bad = read_progress(dir.path());
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message().find("secret"), std::string::npos);
  EXPECT_NE(bad.status().message().find("progress.json"), std::string::npos);
}

TEST(PackageMetricsTest, TaskInfoProgressIsTheRecordWrittenSinceTheTaskWasSubmitted) {
  TempDir dir;
  EXPECT_TRUE(task_info_progress(dir.path(), 100).is_null());
  dir.write("progress.json", R"({"stage":"train","step":5,"updated_at":150.5})");
  EXPECT_EQ(task_info_progress(dir.path(), 100)["step"], 5);
  EXPECT_TRUE(task_info_progress(dir.path(), 200).is_null()) << "an earlier run's record";
  dir.write("progress.json", R"({"stage":"train","step":5})");
  EXPECT_TRUE(task_info_progress(dir.path(), 0).is_null()) << "no time: not known to be current";
  dir.write("progress.json", "not json");
  EXPECT_TRUE(task_info_progress(dir.path(), 0).is_null()) << "unreadable reads as none";
  EXPECT_TRUE(task_info_progress("", 0).is_null());
}

}  // namespace
}  // namespace dlnest
