// The data of this project: Fashion-MNIST (or MNIST: same file names and format) read from the
// IDX files in args["data_root"].
#include <dlnest/dataset.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

using dlnest::Json;

namespace {

constexpr uint32_t kImagesMagic = 2051;  // IDX: unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 2049;  // IDX: unsigned bytes, 1 dimension

/// `root/name.gz`, or `root/name` when there is no .gz.
std::string idx_path(const std::string& root, const std::string& name) {
  const std::string plain = root + "/" + name;
  if (std::filesystem::exists(plain + ".gz")) return plain + ".gz";
  if (std::filesystem::exists(plain)) return plain;
  throw std::runtime_error("neither " + plain + ".gz nor " + plain +
                           " exists; is data_root in dataset_config.json right?");
}

/// The bytes of the file at `path`, gunzipped (gzread passes uncompressed files through).
std::string read_file(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw std::runtime_error(path + ": cannot open");
  }
  std::string bytes;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) bytes.append(buffer, n);
  const bool failed = n < 0;
  gzclose(file);
  if (failed) throw std::runtime_error(path + ": corrupt gzip data");
  return bytes;
}

/// The big-endian 32-bit integer at `offset` (IDX headers are big-endian).
uint32_t read_u32(const std::string& bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

/// The samples of one IDX file as a uint8 tensor: [N, rows, cols] for images, [N] for labels.
/// Throws, naming the file, when its magic number or size is wrong.
torch::Tensor load_idx(const std::string& root, const std::string& name, uint32_t magic) {
  const std::string path = idx_path(root, name);
  const std::string bytes = read_file(path);
  const size_t dims = magic == kImagesMagic ? 3 : 1;
  const size_t header = 4 + 4 * dims;
  if (bytes.size() < header || read_u32(bytes, 0) != magic) {
    throw std::runtime_error(path + ": not an IDX file (bad magic number)");
  }
  std::vector<int64_t> shape;
  size_t count = 1;
  for (size_t d = 0; d < dims; ++d) {
    shape.push_back(read_u32(bytes, 4 + 4 * d));
    count *= shape.back();
  }
  if (bytes.size() != header + count) {
    throw std::runtime_error(path + ": expected " + std::to_string(header + count) +
                             " bytes, got " + std::to_string(bytes.size()));
  }
  return torch::from_blob(const_cast<char*>(bytes.data() + header), shape, torch::kUInt8).clone();
}

/// Keeps the first `limit` samples (all of them when limit <= 0): for quick test runs.
torch::Tensor first(const torch::Tensor& samples, int64_t limit) {
  return limit > 0 && limit < samples.size(0) ? samples.narrow(0, 0, limit) : samples;
}

}  // namespace

/// Fashion-MNIST: 60000 training and 10000 test images of 10 classes. Images become float
/// [N, 1, 28, 28] tensors normalised with the training set's mean and standard deviation;
/// labels int64 [N]. The test set is the validation loader.
class MNISTDataset : public dlnest::Dataset {
 public:
  dlnest::DatasetParts init(const Json& args) override {
    const std::string root = args.at("data_root").get<std::string>();
    torch::Tensor train_images = load_idx(root, "train-images-idx3-ubyte", kImagesMagic);
    torch::Tensor train_labels = load_idx(root, "train-labels-idx1-ubyte", kLabelsMagic);
    torch::Tensor test_images = load_idx(root, "t10k-images-idx3-ubyte", kImagesMagic);
    torch::Tensor test_labels = load_idx(root, "t10k-labels-idx1-ubyte", kLabelsMagic);
    check_pair(root, train_images, train_labels, "train");
    check_pair(root, test_images, test_labels, "t10k");

    const int64_t train_limit = args.value("train_subset", int64_t{0});
    const int64_t test_limit = args.value("test_subset", int64_t{0});
    train_images = first(train_images, train_limit).to(torch::kFloat).div_(255).unsqueeze(1);
    test_images = first(test_images, test_limit).to(torch::kFloat).div_(255).unsqueeze(1);
    train_labels = first(train_labels, train_limit).to(torch::kInt64);
    test_labels = first(test_labels, test_limit).to(torch::kInt64);

    // Normalise both sets with the statistics of the training set.
    const double mean = train_images.mean().item<double>();
    const double std = train_images.std().item<double>();
    train_images.sub_(mean).div_(std);
    test_images.sub_(mean).div_(std);

    const int64_t batch_size = args.value("batch_size", int64_t{64});
    // Background loader threads; by default chosen from the intra-op thread count.
    const int workers = args.value("workers", dlnest::kAutoWorkers);
    dlnest::DatasetParts parts;
    parts.info = {{"classes", 10},
                  {"train_size", train_images.size(0)},
                  {"test_size", test_images.size(0)},
                  {"mean", mean},
                  {"std", std}};
    parts.train = std::make_shared<dlnest::DataLoader>(
        std::make_shared<dlnest::TensorSource>(
            std::vector<torch::Tensor>{train_images, train_labels}),
        dlnest::DataLoaderOptions(batch_size)
            .shuffle(true)
            .seed(args.value("seed", uint64_t{0}))
            .workers(workers));
    parts.validation = std::make_shared<dlnest::DataLoader>(
        std::make_shared<dlnest::TensorSource>(
            std::vector<torch::Tensor>{test_images, test_labels}),
        dlnest::DataLoaderOptions(batch_size * 4).workers(workers));
    return parts;
  }

 private:
  /// Images and labels of a set must be 28x28 and equally many.
  static void check_pair(const std::string& root, const torch::Tensor& images,
                         const torch::Tensor& labels, const std::string& set) {
    if (images.size(1) != 28 || images.size(2) != 28) {
      throw std::runtime_error(root + "/" + set + "-images-idx3-ubyte: images are not 28x28");
    }
    if (images.size(0) != labels.size(0)) {
      throw std::runtime_error(root + "/" + set +
                               "-labels-idx1-ubyte: " + std::to_string(labels.size(0)) +
                               " labels for " + std::to_string(images.size(0)) + " images");
    }
  }
};

DLNEST_REGISTER_DATASET(MNISTDataset);
