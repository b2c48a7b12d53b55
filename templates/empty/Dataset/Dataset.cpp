// The data of this project: replace the synthetic samples with your own (read files in init(),
// or write a dlnest::BatchSource that loads samples on demand).
#include <ATen/CPUGeneratorImpl.h>
#include <dlnest/dataset.h>

#include <cmath>

using dlnest::Json;

/// Synthetic regression data drawn from args["seed"]: x ~ N(0, 1) of "input_size" features and
/// y = sum(sin(x W)) + noise, for a random projection W. Returns a shuffled train loader and a
/// validation loader, and tells the runner the input and output sizes.
class Dataset : public dlnest::Dataset {
 public:
  dlnest::DatasetParts init(const Json& args) override {
    const int64_t inputs = args.value("input_size", int64_t{8});
    const int64_t train_size = args.value("train_size", int64_t{4096});
    const int64_t validation_size = args.value("validation_size", int64_t{1024});
    const uint64_t seed = args.value("seed", uint64_t{0});

    // A generator of its own, so the data depend on the seed only.
    at::Generator generator = at::detail::createCPUGenerator(seed);
    torch::Tensor w = torch::randn({inputs, 4}, generator) / std::sqrt(static_cast<double>(inputs));
    torch::Tensor x = torch::randn({train_size + validation_size, inputs}, generator);
    torch::Tensor y = torch::sin(2 * x.matmul(w)).sum(1, /*keepdim=*/true);
    y += args.value("noise", 0.05) * torch::randn(y.sizes(), generator);

    const int64_t batch_size = args.value("batch_size", int64_t{64});
    dlnest::DatasetParts parts;
    parts.info = {{"input_size", inputs}, {"output_size", 1}};
    parts.train = std::make_shared<dlnest::DataLoader>(
        std::make_shared<dlnest::TensorSource>(
            std::vector<torch::Tensor>{x.narrow(0, 0, train_size), y.narrow(0, 0, train_size)}),
        dlnest::DataLoaderOptions(batch_size).shuffle(true).seed(seed));
    parts.validation = std::make_shared<dlnest::DataLoader>(
        std::make_shared<dlnest::TensorSource>(std::vector<torch::Tensor>{
            x.narrow(0, train_size, validation_size), y.narrow(0, train_size, validation_size)}),
        dlnest::DataLoaderOptions(batch_size * 4));
    return parts;
  }
};

DLNEST_REGISTER_DATASET(Dataset);
