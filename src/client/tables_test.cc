#include "client/tables.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

TEST(FormatDuration, Units) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59.9), "59s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(2 * 3600 + 7 * 60 + 30), "2h07m");
  EXPECT_EQ(format_duration(3 * 86400 + 4 * 3600 + 5), "3d04h");
  EXPECT_EQ(format_duration(-1), "-");
}

TEST(FormatTable, AlignsColumnsAndLeavesTheLastUnpadded) {
  EXPECT_EQ(format_table({"A", "BB", "C"}, {{"xxx", "y", "last"}, {"x", "", ""}}),
            "A    BB  C\n"
            "xxx  y   last\n"
            "x\n");
}

TEST(FormatTaskTable, RunningPendingAndEnded) {
  const Json tasks = Json::parse(R"([
    {"ID":"T_1.0_1","type":"Train","status":"Running","devices":[0,1],"start_time":1000,
     "end_time":0,"description":"big run","progress":{"stage":"train","epoch":2,"epochs":10,
     "step":45,"steps_per_epoch":100,"it_per_s":12.34,"eta_epoch_s":4.5,"eta_run_s":250}},
    {"ID":"A_2.0_2","type":"Analyze","status":"Pending","devices":[],"start_time":0,
     "description":""},
    {"ID":"T_3.0_3","type":"Train","status":"Failed","devices":[-1],"start_time":100,
     "end_time":160,"exit_code":3,"restarts":1,"max_restarts":2,"description":"cpu"},
    {"ID":"T_4.0_4","type":"Train","status":"Building","devices":[],"start_time":0,
     "description":"new","progress":{"stage":"build","done":3,"total":7,"fraction":0.4286}},
    {"ID":"T_5.0_5","type":"Train","status":"Running","devices":[-1],"start_time":1060,
     "description":"","progress":null}
  ])");
  EXPECT_EQ(format_task_table(tasks, 1065),
            "ID       TYPE     STATUS                         PROGRESS                      DEVICES  "
            "ELAPSED  DESCRIPTION\n"
            "T_1.0_1  Train    Running                        e 3/10 45% 12.3it/s ETA 4:10  0,1      "
            "1m05s    big run\n"
            "A_2.0_2  Analyze  Pending                        -                             -        -\n"
            "T_3.0_3  Train    Failed (exit 3) (restart 1/2)  -                             CPU      "
            "1m00s    cpu\n"
            "T_4.0_4  Train    Building                       build 43%                     -        "
            "-        new\n"
            "T_5.0_5  Train    Running                        -                             CPU      "
            "5s\n");
}

TEST(FormatTaskTable, OriginalFieldsOnly) {
  // An original server's entry: no times, no exit code, no progress.
  const Json tasks = Json::parse(
      R"([{"ID":"T_7","type":"Train","status":"Running","devices":[-1],"description":"x"}])");
  EXPECT_EQ(format_task_table(tasks, 0),
            "ID   TYPE   STATUS   PROGRESS  DEVICES  ELAPSED  DESCRIPTION\n"
            "T_7  Train  Running  -         CPU      -        x\n");
}

TEST(FormatTaskTable, AHostileProgressCannotDriveTheTerminal) {
  const Json tasks = Json::parse(R"([{"ID":"T_8","type":"Train","status":"Running",
    "progress":{"stage":"\u001b[31mred","epoch":"x"}}])");
  const std::string table = format_task_table(tasks, 0);
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << table;
  EXPECT_NE(table.find("[31mred"), std::string::npos) << table;
}

TEST(FormatTaskTable, Empty) {
  EXPECT_EQ(format_task_table(Json::array(), 0), "no tasks\n");
}

TEST(FormatDeviceTable, GpusAndCpu) {
  const Json devices = Json::parse(R"([
    {"ID":-1,"type":"CPU","is_break":false,"num_tasks":0,"running_tasks":[],
     "total_memory":24105.09765625,"free_memory":23454.109375,"last_use_time":0},
    {"ID":0,"type":"GPU","name":"NVIDIA H100","is_break":false,"num_tasks":2,
     "running_tasks":[{"ID":"T_1"},{"ID":"A_2"}],"total_memory":81559,"free_memory":40000,
     "gpu_util":87.4,"allowed":true},
    {"ID":1,"type":"GPU","is_break":true,"error":"NVML: GPU is lost","num_tasks":0,
     "running_tasks":[],"total_memory":81559,"free_memory":0,"allowed":true},
    {"ID":2,"type":"GPU","is_break":false,"num_tasks":0,"running_tasks":[],
     "total_memory":81559,"free_memory":81000,"gpu_util":0,"allowed":false}
  ])");
  EXPECT_EQ(format_device_table(devices),
            "ID  TYPE             MEMORY (FREE/TOTAL)  UTIL  TASKS    STATE\n"
            "-1  CPU              23454/24105 MB       -     -        ok\n"
            "0   GPU NVIDIA H100  40000/81559 MB       87%   T_1,A_2  ok\n"
            "1   GPU              0/81559 MB           -     -        broken: NVML: GPU is lost\n"
            "2   GPU              81000/81559 MB       0%    -        not allowed\n");
}

TEST(FormatDeviceTable, Empty) {
  EXPECT_EQ(format_device_table(Json::array()), "no devices\n");
}

}  // namespace
}  // namespace dlnest
