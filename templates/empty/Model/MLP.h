// The network of this project: replace it with your own (and list its header in
// other_file_paths of root_config.json so that every save package keeps a copy).
#pragma once

#include <torch/torch.h>

#include <vector>

/// A multi-layer perceptron: Linear + ReLU for each hidden size, then a Linear to `outputs`.
struct MLPImpl : torch::nn::Module {
  MLPImpl(int64_t inputs, const std::vector<int64_t>& hidden, int64_t outputs) {
    for (int64_t size : hidden) {
      layers->push_back(torch::nn::Linear(inputs, size));
      layers->push_back(torch::nn::ReLU());
      inputs = size;
    }
    layers->push_back(torch::nn::Linear(inputs, outputs));
    register_module("layers", layers);
  }

  torch::Tensor forward(const torch::Tensor& x) { return layers->forward(x); }

  torch::nn::Sequential layers;
};
TORCH_MODULE(MLP);
