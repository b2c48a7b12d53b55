// handwritten_mnist: the training loop a libtorch user would write by hand for the MNIST
// template's model (templates/mnist/Model/MNISTCNN.h), on the same Fashion-MNIST IDX files, with
// the same normalisation, shuffling, batching, Adam and StepLR as the template. It is the baseline
// of bench/training_bench.sh (docs/benchmarks.md, "Training speed").
//
//   handwritten_mnist [--data-root DIR] [--train-subset N] [--batch-size B] [--epochs E]
//                     [--seed S] [--threads T] [--allocator tuned|default] [--device cpu|cuda]
//
// Prints one JSON line per epoch: {"epoch": e, "seconds": s, "minor_faults": f, "mean_loss": l}.
// "seconds" is the wall time of the epoch's shuffle, batching and training steps, nothing else;
// "minor_faults" the page faults the process took meanwhile (memory the allocator got back from
// the kernel and touched again). On a GPU (--device cuda) each batch is copied to it, as the
// template's DataLoader does.
#include <malloc.h>
#include <sys/resource.h>
#include <torch/torch.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "MNISTCNN.h"

namespace {

constexpr uint32_t kImagesMagic = 2051;
constexpr uint32_t kLabelsMagic = 2049;
// The same values as dlnest-worker's tune_allocator() (src/worker/main.cc).
constexpr int kMmapThreshold = 32 * 1024 * 1024;
constexpr int kTrimThreshold = 1 << 30;

struct Options {
  std::string data_root = "/usr/share/datasets/fashion-mnist";
  int64_t train_subset = 12800;
  int64_t batch_size = 64;
  int epochs = 4;
  uint64_t seed = 0;
  int threads = 0;  ///< 0: libtorch's default
  std::string allocator = "tuned";
  std::string device = "cpu";
};

/// The gunzipped bytes of `path`.
std::string read_gz(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error(path + ": cannot open");
  std::string bytes;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) bytes.append(buffer, n);
  gzclose(file);
  if (n < 0) throw std::runtime_error(path + ": corrupt gzip data");
  return bytes;
}

uint32_t read_u32(const std::string& bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

/// The samples of the IDX file `root/name.gz` as uint8: [N, 28, 28] images or [N] labels.
torch::Tensor load_idx(const std::string& root, const std::string& name, uint32_t magic) {
  const std::string path = root + "/" + name + ".gz";
  const std::string bytes = read_gz(path);
  const size_t dims = magic == kImagesMagic ? 3 : 1;
  const size_t header = 4 + 4 * dims;
  if (bytes.size() < header || read_u32(bytes, 0) != magic) {
    throw std::runtime_error(path + ": not an IDX file");
  }
  std::vector<int64_t> shape;
  for (size_t d = 0; d < dims; ++d) shape.push_back(read_u32(bytes, 4 + 4 * d));
  return torch::from_blob(const_cast<char*>(bytes.data() + header), shape, torch::kUInt8).clone();
}

/// The first `subset` training images as normalised float [N, 1, 28, 28] and their int64 labels,
/// as the template's Dataset.cpp makes them.
std::pair<torch::Tensor, torch::Tensor> load_train(const Options& o) {
  torch::Tensor images = load_idx(o.data_root, "train-images-idx3-ubyte", kImagesMagic);
  torch::Tensor labels = load_idx(o.data_root, "train-labels-idx1-ubyte", kLabelsMagic);
  images = images.narrow(0, 0, o.train_subset).to(torch::kFloat).div_(255).unsqueeze(1);
  labels = labels.narrow(0, 0, o.train_subset).to(torch::kInt64);
  const double mean = images.mean().item<double>();
  const double std = images.std().item<double>();
  images.sub_(mean).div_(std);
  return {images, labels};
}

/// The sample order of `epoch`: a Fisher-Yates shuffle seeded by (seed, epoch), the same order
/// as dlnest::DataLoader with shuffle(true).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(epoch)};
  std::mt19937_64 rng(seq);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  }
  return order;
}

/// Trains one epoch and returns its mean loss.
double train_epoch(MNISTCNN& model, torch::optim::Adam& adam, const torch::Tensor& images,
                   const torch::Tensor& labels, const Options& o, int epoch) {
  const std::vector<int64_t> order = epoch_order(images.size(0), o.seed, epoch);
  model->train();
  double mean_loss = 0;
  int64_t iter = 0;
  for (size_t begin = 0; begin < order.size(); begin += o.batch_size, ++iter) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(o.batch_size));
    const torch::Tensor index =
        torch::tensor(std::vector<int64_t>(order.begin() + begin, order.begin() + end));
    const torch::Device device(o.device);
    const torch::Tensor x = images.index_select(0, index).to(device);
    const torch::Tensor y = labels.index_select(0, index).to(device);
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    adam.zero_grad();
    loss.backward();
    adam.step();
    mean_loss += (loss.item<double>() - mean_loss) / static_cast<double>(iter + 1);
  }
  return mean_loss;
}

/// Page faults of this process so far that needed no disk read.
int64_t minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

void run(const Options& o) {
  if (o.threads > 0) torch::set_num_threads(o.threads);
  torch::manual_seed(o.seed);
  const auto [images, labels] = load_train(o);
  MNISTCNN model(32, 64, 3, 128, 0.25, 10);
  model->to(torch::Device(o.device));
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::optim::StepLR step_lr(adam, 2, 0.5);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const int64_t faults = minor_faults();
    const auto start = std::chrono::steady_clock::now();
    step_lr.step();  // as the template's Runner: one scheduler step as every epoch begins
    const double mean_loss = train_epoch(model, adam, images, labels, o, epoch);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::printf("{\"epoch\": %d, \"seconds\": %.4f, \"minor_faults\": %lld, \"mean_loss\": %.6f}\n",
                epoch, took.count(), static_cast<long long>(minor_faults() - faults), mean_loss);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"handwritten_mnist: a plain libtorch training loop for the MNIST template's model"};
  app.add_option("--data-root", o.data_root, "folder of the Fashion-MNIST IDX .gz files");
  app.add_option("--train-subset", o.train_subset, "training images used")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size, "batch size")->check(CLI::PositiveNumber);
  app.add_option("--epochs", o.epochs, "epochs")->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "seed of the model and the shuffle");
  app.add_option("--threads", o.threads, "intra-op threads (0: libtorch's default)");
  app.add_option("--allocator", o.allocator, "tuned: dlnest-worker's mallopt settings")
      ->check(CLI::IsMember({"tuned", "default"}));
  app.add_option("--device", o.device, "where to train")->check(CLI::IsMember({"cpu", "cuda"}));
  CLI11_PARSE(app, argc, argv);
  if (o.allocator == "tuned") {
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  }
  try {
    run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "handwritten_mnist: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
