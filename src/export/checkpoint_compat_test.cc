// Checkpoints across libtorch versions: testdata/checkpoint_torch<major>.ckpt were written by
// write_checkpoint() under Debian's libtorch 1.13 and under the PyTorch 2.11 wheel (this test's
// WriteFixture, with DLNEST_WRITE_COMPAT_FIXTURE=<file>) before checkpoints recorded their
// libtorch; checkpoint_torch1_recorded.ckpt likewise under 1.13 after, with dlnest_libtorch. Each
// build reads all of them (docs/training.md, "Checkpoints across libtorch versions").
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "export/module_export.h"
#include "sdk/checkpoint_io.h"

namespace dlnest {
namespace {

namespace nn = torch::nn;

class CompatRunner : public Runner {
 public:
  CompatRunner() {
    net = register_module("net", nn::Sequential(nn::BatchNorm1d(3), nn::Linear(3, 2)));
    adam = register_optimizer(
        "adam", std::make_shared<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(0.01)));
  }
  void init(const Json&, const Json&) override {}
  void run_one_step(Batch&, Json&, int, int) override {}

  nn::Sequential net;
  std::shared_ptr<torch::optim::Adam> adam;
};

class EmptyDataset : public Dataset {
 public:
  DatasetParts init(const Json&) override { return {}; }
};

/// The weights the fixtures hold: parameters 0.5, 1.5, ... in state_dict() order, then one Adam
/// step on a fixed batch (which moves them and gives Adam its state) in train mode (which moves
/// BatchNorm's statistics).
void train_fixture(CompatRunner& runner) {
  torch::NoGradGuard no_grad;
  float value = 0.5f;
  for (auto& p : runner.net->parameters()) {
    p.copy_(torch::arange(p.numel(), torch::kFloat).add(value).reshape(p.sizes()));
    value += 1.0f;
  }
}

void step_fixture(CompatRunner& runner) {
  const torch::Tensor x = torch::arange(12, torch::kFloat).reshape({4, 3}).div(10);
  runner.adam->zero_grad();
  runner.net->forward(x).square().sum().backward();
  runner.adam->step();
}

std::string fixture(int major) {
  return std::string(COMPAT_TESTDATA) + "/checkpoint_torch" + std::to_string(major) + ".ckpt";
}

/// Written under libtorch 1.13.0 by a write_checkpoint() that records dlnest_libtorch.
std::string recorded_torch1_fixture() {
  return std::string(COMPAT_TESTDATA) + "/checkpoint_torch1_recorded.ckpt";
}

/// libtorch 2.2 and later cannot load an optimizer state written by 2.1 or older.
constexpr bool kRefusesOldOptimizerState =
    TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2);

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A runner in the state the fixtures were written in, to compare with.
CompatRunner& expected() {
  static CompatRunner* runner = [] {
    auto* r = new CompatRunner;
    train_fixture(*r);
    step_fixture(*r);
    return r;
  }();
  return *runner;
}

TEST(CheckpointCompat, WriteFixture) {
  const char* out = std::getenv("DLNEST_WRITE_COMPAT_FIXTURE");
  if (out == nullptr) GTEST_SKIP() << "set DLNEST_WRITE_COMPAT_FIXTURE to write one";
  EmptyDataset dataset;
  LifeCycle life_cycle;
  auto file = Env::default_env()->new_writable_file(out);
  ASSERT_TRUE(file.is_ok());
  ASSERT_TRUE(write_checkpoint(**file, expected(), dataset, life_cycle, TrainProgress{}).is_ok());
  ASSERT_TRUE((*file)->close().is_ok());
}

class CheckpointCompatTest : public ::testing::TestWithParam<int> {};

TEST_P(CheckpointCompatTest, ModuleWeightsExport) {
  auto tensors = read_module_tensors(fixture(GetParam()), "net");
  ASSERT_TRUE(tensors.is_ok()) << tensors.status().message();
  const auto state = expected().net->named_parameters();
  const auto buffers = expected().net->named_buffers();
  ASSERT_EQ(tensors->size(), state.size() + buffers.size());
  for (const NamedTensor& t : *tensors) {
    const torch::Tensor* want = state.find(t.name) ? state.find(t.name) : buffers.find(t.name);
    ASSERT_NE(want, nullptr) << t.name;
    EXPECT_TRUE(torch::allclose(t.tensor, *want)) << t.name;
  }
}

TEST_P(CheckpointCompatTest, ModulesLoad) {
  torch::serialize::InputArchive archive, modules, net;
  archive.load_from(fixture(GetParam()));
  archive.read("modules", modules);
  modules.read("net", net);
  CompatRunner runner;
  runner.net->load(net);
  for (const auto& p : expected().net->named_parameters()) {
    EXPECT_TRUE(torch::allclose(runner.net->named_parameters()[p.key()], p.value())) << p.key();
  }
  for (const auto& b : expected().net->named_buffers()) {
    EXPECT_TRUE(torch::allclose(runner.net->named_buffers()[b.key()], b.value())) << b.key();
  }
}

/// Loads the fixture's module and Adam state into `runner`.
void load_fixture(int major, CompatRunner& runner) {
  torch::serialize::InputArchive archive, modules, net, optimizers, adam;
  archive.load_from(fixture(major));
  archive.read("modules", modules);
  modules.read("net", net);
  archive.read("optimizers", optimizers);
  optimizers.read("adam", adam);
  runner.net->load(net);
  runner.adam->load(adam);
}

/// Adam's state (step, exp_avg, exp_avg_sq) of the same or a newer major version loads, and the
/// next step matches one that never left memory.
TEST_P(CheckpointCompatTest, OptimizerStateLoads) {
  if (GetParam() < TORCH_VERSION_MAJOR) GTEST_SKIP() << "see OptimizerStateOfOlderTorchIsRefused";
  CompatRunner runner;
  load_fixture(GetParam(), runner);
  CompatRunner reference;
  train_fixture(reference);
  step_fixture(reference);
  step_fixture(reference);
  step_fixture(runner);
  for (const auto& p : reference.net->named_parameters()) {
    EXPECT_TRUE(torch::allclose(runner.net->named_parameters()[p.key()], p.value()))
        << p.key() << " after a step from torch " << GetParam() << "'s optimizer state";
  }
}

/// The next step after read_checkpoint() equals one that never left memory.
void expect_next_step_matches(CompatRunner& runner, const std::string& from) {
  CompatRunner reference;
  train_fixture(reference);
  step_fixture(reference);
  step_fixture(reference);
  step_fixture(runner);
  for (const auto& p : reference.net->named_parameters()) {
    EXPECT_TRUE(torch::allclose(runner.net->named_parameters()[p.key()], p.value()))
        << p.key() << " after a step from " << from;
  }
}

/// The whole checkpoint, as `dlnest continue` reads it, where its optimizer state is readable.
TEST_P(CheckpointCompatTest, ReadCheckpointContinuesTheRun) {
  if (GetParam() < TORCH_VERSION_MAJOR) GTEST_SKIP() << "see OptimizerStateOfOlderTorchIsRefused";
  CompatRunner runner;
  EmptyDataset dataset;
  LifeCycle life_cycle;
  read_checkpoint(fixture(GetParam()), torch::kCPU, runner, dataset, life_cycle);
  expect_next_step_matches(runner, fixture(GetParam()));
}

/// Expects read_checkpoint(file) to refuse the file's Adam state with a message naming the file,
/// the optimizer, the libtorch that wrote it (`writer`) and this one, and to load nothing.
void expect_refused(const std::string& file, const std::string& writer) {
  CompatRunner runner;
  const torch::Tensor before = runner.net->parameters()[0].clone();
  EmptyDataset dataset;
  LifeCycle life_cycle;
  try {
    read_checkpoint(file, torch::kCPU, runner, dataset, life_cycle);
    // Without the check libtorch loads the state, and the next step would crash the process.
    ADD_FAILURE() << file << ": expected read_checkpoint to refuse its optimizer state";
    return;
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    EXPECT_TRUE(contains(message, file + ": ")) << message;
    EXPECT_TRUE(contains(message, "optimizer 'adam'")) << message;
    EXPECT_TRUE(contains(message, "saved under " + writer)) << message;
    EXPECT_TRUE(contains(message, std::string("this is libtorch ") + TORCH_VERSION)) << message;
    std::cout << message << "\n";
  }
  EXPECT_TRUE(torch::equal(runner.net->parameters()[0], before)) << "nothing was loaded";
  step_fixture(runner);  // the runner's own optimizer state is untouched and steps
}

/// 1.13's Adam state under libtorch 2.2 or later: libtorch's Adam::load accepts it and the next
/// step() crashes the process, so read_checkpoint refuses it before loading anything.
TEST_P(CheckpointCompatTest, OptimizerStateOfOlderTorchIsRefused) {
  if (GetParam() >= TORCH_VERSION_MAJOR) GTEST_SKIP() << "same or newer torch";
  ASSERT_TRUE(kRefusesOldOptimizerState);
  expect_refused(fixture(GetParam()), "libtorch 2.1 or older");
}

TEST(CheckpointCompat, RecordedLibtorchIsNamedOrTheRunContinues) {
  if (kRefusesOldOptimizerState) {
    expect_refused(recorded_torch1_fixture(), "libtorch 1.13.0");
  } else {
    CompatRunner runner;
    EmptyDataset dataset;
    LifeCycle life_cycle;
    read_checkpoint(recorded_torch1_fixture(), torch::kCPU, runner, dataset, life_cycle);
    expect_next_step_matches(runner, recorded_torch1_fixture());
  }
}

/// New checkpoints record the libtorch that wrote them, and read back in the same build.
TEST(CheckpointCompat, NewCheckpointsRecordTheirLibtorch) {
  const std::string file = ::testing::TempDir() + "/checkpoint_compat_recorded.ckpt";
  EmptyDataset dataset;
  LifeCycle life_cycle;
  {
    auto out = Env::default_env()->new_writable_file(file);
    ASSERT_TRUE(out.is_ok());
    ASSERT_TRUE(write_checkpoint(**out, expected(), dataset, life_cycle, TrainProgress{}).is_ok());
    ASSERT_TRUE((*out)->close().is_ok());
  }
  torch::serialize::InputArchive archive;
  archive.load_from(file);
  c10::IValue version;
  archive.read("dlnest_libtorch", version);
  EXPECT_EQ(version.toStringRef(), TORCH_VERSION);
  CompatRunner runner;
  read_checkpoint(file, torch::kCPU, runner, dataset, life_cycle);
  expect_next_step_matches(runner, file);
  std::remove(file.c_str());
}

INSTANTIATE_TEST_SUITE_P(TorchVersions, CheckpointCompatTest, ::testing::Values(1, 2),
                         [](const auto& info) { return "Torch" + std::to_string(info.param); });

}  // namespace
}  // namespace dlnest
