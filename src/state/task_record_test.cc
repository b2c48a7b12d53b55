#include "state/task_record.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dlnest {
namespace {

TaskRecord full_record() {
  TaskRecord t;
  t.id = "A_7240.3831_7";
  t.type = TaskType::kAnalyze;
  t.state = TaskState::kFailed;
  t.args = Json{{"epochs", 3}, {"model_config", {{"feats", {1, 2}}}}};
  t.package_dir = "/p/Saves/2026-11-22_19-32-10_351";
  t.script_path = "/p/AnalyzeScripts";
  t.description = "a note";
  t.memory_mb = 4096;
  t.cpu = true;
  t.multi_gpu = true;
  t.ddp = true;
  t.nproc = 2;
  t.load_ckpt = true;
  t.checkpoint_id = 12;
  t.devices = {0, 2};
  t.submit_time = 1700000000.25;
  t.start_time = 1700000001.5;
  t.end_time = 1700000002.75;
  t.exit_code = 3;
  t.pid = 4242;
  t.pid_start_ticks = 123456789;
  t.restarts = 1;
  t.max_restarts = 2;
  t.error = "it broke";
  return t;
}

TEST(TaskRecordTest, NamesRoundTripAndUnknownNamesAreErrors) {
  for (TaskState s : {TaskState::kPending, TaskState::kBuilding, TaskState::kRunning,
                      TaskState::kFinished, TaskState::kFailed, TaskState::kKilled}) {
    EXPECT_EQ(*parse_task_state(task_state_name(s)), s);
  }
  EXPECT_EQ(*parse_task_type("Analyze"), TaskType::kAnalyze);
  EXPECT_EQ(parse_task_state("Done").status().message(),
            "unknown task state 'Done' (expected Pending, Building, Running, Finished, Failed or "
            "Killed)");
  EXPECT_EQ(parse_task_type("Eval").status().code(), Status::Code::kInvalidArgument);
}

TEST(TaskRecordTest, LegalTransitions) {
  EXPECT_TRUE(is_legal_transition(TaskState::kPending, TaskState::kRunning));
  EXPECT_TRUE(is_legal_transition(TaskState::kPending, TaskState::kKilled));
  EXPECT_TRUE(is_legal_transition(TaskState::kRunning, TaskState::kFinished));
  EXPECT_TRUE(is_legal_transition(TaskState::kRunning, TaskState::kFailed));
  EXPECT_TRUE(is_legal_transition(TaskState::kFailed, TaskState::kPending));
  EXPECT_FALSE(is_legal_transition(TaskState::kPending, TaskState::kFinished));
  EXPECT_FALSE(is_legal_transition(TaskState::kRunning, TaskState::kRunning));
  // The build stage, and a requeue of a process that never started.
  EXPECT_TRUE(is_legal_transition(TaskState::kPending, TaskState::kBuilding));
  EXPECT_TRUE(is_legal_transition(TaskState::kBuilding, TaskState::kPending));
  EXPECT_TRUE(is_legal_transition(TaskState::kBuilding, TaskState::kKilled));
  EXPECT_TRUE(is_legal_transition(TaskState::kRunning, TaskState::kPending));
  EXPECT_FALSE(is_legal_transition(TaskState::kBuilding, TaskState::kRunning));
  EXPECT_FALSE(is_legal_transition(TaskState::kBuilding, TaskState::kFinished));
  EXPECT_FALSE(is_legal_transition(TaskState::kFailed, TaskState::kBuilding));
  for (TaskState to :
       {TaskState::kPending, TaskState::kBuilding, TaskState::kRunning, TaskState::kFailed}) {
    EXPECT_FALSE(is_legal_transition(TaskState::kFinished, to));
    EXPECT_FALSE(is_legal_transition(TaskState::kKilled, to));
  }
}

TEST(TaskRecordTest, IdsLookLikeTheOriginal) {
  EXPECT_EQ(format_task_id(TaskType::kTrain, 1763837235.26951, 7), "T_7235.2695_7");
  EXPECT_EQ(format_task_id(TaskType::kAnalyze, 1763830000.5, 12), "A_0.5000_12");
}

TEST(TaskRecordTest, JsonUsesTheOriginalFieldNames) {
  const Json json = task_to_json(full_record());
  for (const char* key :
       {"ID", "args", "devices", "memory_consumption", "multi_GPU", "DDP", "type", "status",
        "load_ckpt", "checkpoint_ID", "description", "record_path", "script_path"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["type"], "Analyze");
  EXPECT_EQ(json["status"], "Failed");
  EXPECT_EQ(json["record_path"], "/p/Saves/2026-11-22_19-32-10_351");
  EXPECT_EQ(json["devices"], Json({0, 2}));

  TaskRecord train;
  train.id = "T_1.0000_1";
  const Json train_json = task_to_json(train);
  EXPECT_FALSE(train_json.contains("record_path"));
  EXPECT_TRUE(train_json["exit_code"].is_null());
  EXPECT_EQ(train_json["memory_consumption"], -1);
  EXPECT_EQ(train_json["checkpoint_ID"], -1);
}

TEST(TaskRecordTest, JsonRoundTripsEveryField) {
  const TaskRecord task = full_record();
  Result<TaskRecord> back = task_from_json(task_to_json(task));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(*back, task);
}

TEST(TaskRecordTest, JsonErrorsNameTheField) {
  Json json = task_to_json(full_record());
  json.erase("checkpoint_ID");
  EXPECT_EQ(task_from_json(json).status().message(), "task field 'checkpoint_ID' is missing");
  json = task_to_json(full_record());
  json["pid"] = "many";
  EXPECT_NE(task_from_json(json).status().message().find("'pid'"), std::string::npos);
}

}  // namespace
}  // namespace dlnest
