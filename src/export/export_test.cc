// `dlnest export` end to end: a real checkpoint written by the training runtime, exported by the
// dlnest and dlnest-export binaries, loaded by the real safetensors and torch Python packages into
// the same network written in torch.nn (testdata/check_export.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "dlnest/save_package.h"
#include "export/module_export.h"
#include "process/subprocess.h"
#include "sdk/checkpoint_io.h"
#include "testing/temp_dir.h"

namespace dlnest {
namespace {

namespace nn = torch::nn;

struct NetImpl : nn::Module {
  NetImpl() {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(1, 4, 3)));
    bn = register_module("bn", nn::BatchNorm2d(4));
    head = register_module("head", nn::Sequential(nn::Linear(4 * 6 * 6, 16), nn::ReLU(),
                                                  nn::Linear(nn::LinearOptions(16, 3).bias(false))));
  }
  torch::Tensor forward(torch::Tensor x) {
    return head->forward(torch::relu(bn(conv(x))).flatten(1));
  }
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
  nn::Sequential head{nullptr};
};
TORCH_MODULE(Net);

class ExportRunner : public Runner {
 public:
  void init(const Json&, const Json&) override {}
  void run_one_step(Batch&, Json&, int, int) override {}
};

class EmptyDataset : public Dataset {
 public:
  DatasetParts init(const Json&) override { return {}; }
};

/// The Python that runs check_export.py: $DLNEST_TEST_PYTHON, else the one CMake was given.
std::string test_python() {
  const char* env = std::getenv("DLNEST_TEST_PYTHON");
  return env != nullptr && *env != '\0' ? env : DLNEST_TEST_PYTHON;
}

void write_floats(const std::string& file, const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kFloat).contiguous();
  std::ofstream(file, std::ios::binary)
      .write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
}

ProcessResult run(const std::vector<std::string>& argv) {
  auto result = run_process(argv, ".");
  EXPECT_TRUE(result.is_ok()) << result.status().message();
  return result.is_ok() ? *result : ProcessResult{};
}

class ExportTest : public ::testing::Test {
 protected:
  /// Trains `net` a little on `device` (BatchNorm's statistics move), saves a checkpoint of a
  /// runner holding it as "net" and a Linear as "aux", and writes a batch and the outputs of
  /// `net` in eval mode on the CPU.
  void save_package(torch::Device device) {
    torch::manual_seed(7);
    Net net;
    net->to(device);
    torch::optim::SGD sgd(net->parameters(), 0.1);
    for (int i = 0; i < 3; ++i) {
      sgd.zero_grad();
      net->forward(torch::randn({8, 1, 8, 8}, device)).square().mean().backward();
      sgd.step();
    }
    ExportRunner runner;
    runner.register_module("net", net);
    runner.register_module("aux", nn::Linear(2, 2));
    SavePackage package(Json{{"save_root", dir_.path()}});
    ASSERT_TRUE(package.save_to_new_dir(PackageOptions().with_name("pkg").with_copy_files(false))
                    .is_ok());
    EmptyDataset dataset;
    LifeCycle life_cycle;
    auto id = package.save_checkpoint([&](WritableFile& out) {
      return write_checkpoint(out, runner, dataset, life_cycle, TrainProgress{});
    });
    ASSERT_TRUE(id.is_ok()) << id.status().message();
    net->to(torch::kCPU);
    net->eval();
    const torch::Tensor x = torch::randn({8, 1, 8, 8});
    write_floats(dir_.file("input.bin"), x);
    torch::NoGradGuard no_grad;
    write_floats(dir_.file("expected.bin"), net->forward(x));
  }

  ProcessResult dlnest_export(std::vector<std::string> flags) {
    std::vector<std::string> argv = {std::string(DLNEST_BIN_DIR) + "/dlnest", "export"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return run(argv);
  }

  /// Runs check_export.py on `weights`; skips the test without a Python that has torch and
  /// safetensors.
  void check_in_python(const std::string& weights, const std::string& prefix) {
    const std::string python = test_python();
    if (python.empty() || run({python, "-c", "import torch, safetensors"}).exit_code != 0) {
      GTEST_SKIP() << "no Python with torch and safetensors (set DLNEST_TEST_PYTHON; "
                      "scripts/build_torch2.sh makes one)";
    }
    const ProcessResult r = run({python, CHECK_EXPORT_PY, weights, dir_.file("input.bin"),
                                 dir_.file("expected.bin"), prefix});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::cout << r.output;
  }

  std::string package() const { return dir_.file("pkg"); }

  testing::TempDir dir_;
};

TEST_F(ExportTest, EveryModuleUnderItsNameLoadsIntoTorchNn) {
  save_package(torch::kCPU);
  const std::string out = dir_.file("all.safetensors");
  const ProcessResult r = dlnest_export({"-r", package(), "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_in_python(out, "net.");
}

TEST_F(ExportTest, OneModuleLoadsIntoTorchNnUnprefixed) {
  save_package(torch::kCPU);
  const std::string out = dir_.file("net.safetensors");
  const ProcessResult r = dlnest_export({"-r", package(), "-c", "0", "-m", "net", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_in_python(out, "");
}

TEST_F(ExportTest, NamesFollowStateDict) {
  save_package(torch::kCPU);
  auto tensors = read_module_tensors(package() + "/Checkpoints/state_0.ckpt", "");
  ASSERT_TRUE(tensors.is_ok()) << tensors.status().message();
  std::vector<std::string> names;
  for (const NamedTensor& t : *tensors) names.push_back(t.name);
  const std::vector<std::string> expected = {
      "net.conv.weight",      "net.conv.bias",        "net.bn.weight",
      "net.bn.bias",          "net.bn.running_mean",  "net.bn.running_var",
      "net.bn.num_batches_tracked", "net.head.0.weight", "net.head.0.bias",
      "net.head.2.weight",    "aux.weight",           "aux.bias"};
  EXPECT_EQ(names, expected);
}

TEST_F(ExportTest, DefaultOutputIsNamedAfterPackageAndId) {
  save_package(torch::kCPU);
  auto r = run({"/bin/sh", "-c",
                "cd " + dir_.path() + " && " + DLNEST_BIN_DIR + "/dlnest export -r pkg"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::ifstream(dir_.file("pkg_0.safetensors")).good()) << r.output;
}

TEST_F(ExportTest, ErrorsNameTheModuleOrCheckpoint) {
  save_package(torch::kCPU);
  ProcessResult r = dlnest_export({"-r", package(), "-m", "decoder", "-o", dir_.file("x")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no registered module 'decoder' (it has 'net', 'aux')"),
            std::string::npos)
      << r.output;
  r = dlnest_export({"-r", package(), "-c", "5", "-o", dir_.file("x")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("dlnest export: "), std::string::npos) << r.output;
  EXPECT_FALSE(std::ifstream(dir_.file("x")).good());
}

TEST_F(ExportTest, NotACheckpointIsAnError) {
  const std::string file = dir_.write("junk.ckpt", "not a zip archive");
  auto tensors = read_module_tensors(file, "");
  ASSERT_FALSE(tensors.is_ok());
  EXPECT_EQ(tensors.status().message().rfind("cannot export " + file + ": ", 0), 0u)
      << tensors.status().message();
}

TEST_F(ExportTest, CudaModulesExportToTheCpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  save_package(torch::kCUDA);
  const std::string out = dir_.file("cuda.safetensors");
  const ProcessResult r = dlnest_export({"-r", package(), "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  check_in_python(out, "net.");
}

}  // namespace
}  // namespace dlnest
