// The network of this project. Runner.cpp builds it from the "model_*" keys of model_config.json;
// AnalyzeScripts include it to reach the trained model.
#pragma once

#include <torch/torch.h>

/// The "2 Conv + pooling" CNN for 28x28 grey images: two convolution + ReLU + 2x2 max-pool
/// blocks (28 -> 14 -> 7), a hidden fully-connected layer with dropout, and a 10-way classifier
/// producing logits.
struct MNISTCNNImpl : torch::nn::Module {
  MNISTCNNImpl(int64_t channels1, int64_t channels2, int64_t kernel, int64_t hidden,
               double dropout_rate, int64_t classes)
      // Padding kernel / 2 keeps the size, so only the poolings shrink the image.
      : conv1(torch::nn::Conv2dOptions(1, channels1, kernel).padding(kernel / 2)),
        conv2(torch::nn::Conv2dOptions(channels1, channels2, kernel).padding(kernel / 2)),
        fc1(channels2 * 7 * 7, hidden),
        dropout(dropout_rate),
        fc2(hidden, classes) {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("fc1", fc1);
    register_module("dropout", dropout);
    register_module("fc2", fc2);
  }

  /// images: [N, 1, 28, 28] -> logits: [N, classes].
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1(x)), 2);
    x = torch::max_pool2d(torch::relu(conv2(x)), 2);
    x = dropout(torch::relu(fc1(x.flatten(1))));
    return fc2(x);
  }

  torch::nn::Conv2d conv1, conv2;
  torch::nn::Linear fc1;
  torch::nn::Dropout dropout;
  torch::nn::Linear fc2;
};
TORCH_MODULE(MNISTCNN);
