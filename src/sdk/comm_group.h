// The communication group of a DDP run's ranks: a Communicator over libtorch's c10d, with a
// TCPStore for the rendezvous, Gloo for CPU tensors and NCCL for CUDA tensors, where this
// libtorch has them (docs/training.md, "Distributed training").
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "dlnest/distributed.h"
#include "dlnest/status.h"

namespace dlnest {

struct CommGroupOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  /// The rank's device: the CPU selects Gloo, a GPU selects NCCL.
  torch::Device device = torch::kCPU;
  /// How long the rendezvous and every collective may take before it fails.
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
};

/// Joins the communication group of the run's ranks: rank 0 serves the TCPStore on
/// master_addr:master_port, the other ranks connect to it. Errors name the address, or the
/// backend this libtorch lacks.
Result<std::shared_ptr<Communicator>> connect_comm_group(const CommGroupOptions& options);

/// Whether this libtorch can run collectives for `device` (Gloo for the CPU, NCCL for GPUs).
bool has_backend_for(const torch::Device& device);

}  // namespace dlnest
