#include "server/admission.h"

#include <gtest/gtest.h>

namespace dlnest {
namespace {

const MachineFacts kNoGpu{0};
const MachineFacts kTwoGpus{2};

TrainResources cpu() {
  TrainResources r;
  r.cpu = true;
  return r;
}

TEST(AdmissionTest, ChecksMemoryRestartsAndRanks) {
  EXPECT_TRUE(check_train_request(cpu(), kNoGpu).is_ok());
  TrainResources r = cpu();
  r.memory_mb = 0;
  EXPECT_EQ(check_train_request(r, kNoGpu).message(),
            "memory_consumption must be a positive number of MB, -1 (the default) or auto; got 0");
  r.memory_auto = true;  // the number is not used
  EXPECT_TRUE(check_train_request(r, kNoGpu).is_ok());
  r = cpu();
  r.max_restarts = -1;
  EXPECT_EQ(check_train_request(r, kNoGpu).message(), "max_restarts must be >= 0");
  r = cpu();
  r.nproc = 2;
  EXPECT_EQ(check_train_request(r, kNoGpu).message(), "nproc applies to DDP tasks (DDP=True)");
  r.ddp = true;
  EXPECT_TRUE(check_train_request(r, kNoGpu).is_ok());
  r.nproc = kMaxNproc + 1;
  EXPECT_EQ(check_train_request(r, kNoGpu).code(), Status::Code::kInvalidArgument);
  r = TrainResources{};
  r.ddp = true;
  r.nproc = 2;
  EXPECT_NE(check_train_request(r, kTwoGpus).message().find("nproc applies to CPU tasks"),
            std::string::npos);
}

TEST(AdmissionTest, AGpuTaskOnAMachineWithoutGpusIsRefused) {
  Status s = check_train_request(TrainResources{}, kNoGpu);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("this machine has no GPU"), std::string::npos);
  EXPECT_NE(s.message().find("dlnest --cpu"), std::string::npos) << s.message();
  EXPECT_TRUE(check_train_request(TrainResources{}, kTwoGpus).is_ok());
}

TEST(AdmissionTest, ChecksCheckpointIds) {
  ContinueSubmit c;
  c.resources = cpu();
  c.checkpoint_id = -2;
  EXPECT_EQ(check_continue_request(c, kNoGpu).message(),
            "checkpoint_ID must be a checkpoint id or -1 (the latest)");
  AnalyzeSubmit a;
  a.cpu = true;
  a.checkpoint_id = -2;
  EXPECT_TRUE(check_analyze_request(a, kNoGpu).is_ok());
  a.checkpoint_id = -3;
  EXPECT_EQ(check_analyze_request(a, kNoGpu).code(), Status::Code::kInvalidArgument);
}

TEST(AdmissionTest, ANewTrainingIsBuiltFromItsProjectFirst) {
  TrainSubmit s;
  s.description = "first";
  s.resources = cpu();
  s.resources.ddp = true;
  s.resources.nproc = 2;
  s.resources.max_restarts = 1;
  PackageFacts p{"/saves/x", Json{{"lr", 0.1}}, ""};
  TaskRecord t = admit_train(s, p, "/projects/p");
  EXPECT_EQ(t.type, TaskType::kTrain);
  EXPECT_EQ(t.package_dir, "/saves/x");
  EXPECT_EQ(t.project_dir, "/projects/p");
  EXPECT_TRUE(t.needs_build);
  EXPECT_TRUE(t.multi_gpu);  // implied by DDP
  EXPECT_EQ(t.nproc, 2);
  EXPECT_EQ(t.max_restarts, 1);
  EXPECT_EQ(t.description, "first");
  EXPECT_EQ(t.args, p.args);
}

TEST(AdmissionTest, AContinueKeepsThePackagesDescriptionAndPlugin) {
  ContinueSubmit c;
  c.checkpoint_id = 3;
  TaskRecord t = admit_continue(c, PackageFacts{"/saves/x", Json::object(), "old"});
  EXPECT_FALSE(t.needs_build);
  EXPECT_TRUE(t.load_ckpt);
  EXPECT_EQ(t.checkpoint_id, 3);
  EXPECT_EQ(t.description, "old");
  c.description = "new";
  EXPECT_EQ(admit_continue(c, PackageFacts{"/saves/x", Json::object(), "old"}).description, "new");
}

TEST(AdmissionTest, AnAnalysisWithoutACheckpointLoadsNone) {
  AnalyzeSubmit a;
  a.checkpoint_id = -2;
  TaskRecord t = admit_analyze(a, PackageFacts{"/saves/x", Json::object(), "d"}, "/s");
  EXPECT_EQ(t.type, TaskType::kAnalyze);
  EXPECT_FALSE(t.load_ckpt);
  EXPECT_EQ(t.script_path, "/s");
}

TEST(AdmissionTest, APackageInUseIsRefusedNamingTheTask) {
  TaskRecord t;
  t.id = "T_1";
  t.package_dir = "/saves/x";
  t.state = TaskState::kBuilding;
  Status s = check_package_free("/saves/x", {t});
  EXPECT_EQ(s.message(),
            "save package /saves/x is in use by task T_1 (Building); delete it first or wait "
            "until it ends");
  EXPECT_TRUE(check_package_free("/saves/y", {t}).is_ok());
}

}  // namespace
}  // namespace dlnest
