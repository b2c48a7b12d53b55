#include "sdk/comm_group.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/version.h>

#include <cstdlib>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

// The PyTorch wheels define USE_C10D_GLOO but ship no gloo headers (DLNEST_NO_GLOO: the ones
// found are not libtorch's, see CMakeLists.txt); NCCL needs nccl.h.
#if defined(USE_C10D_GLOO) && !defined(DLNEST_NO_GLOO) && __has_include(<gloo/config.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define DLNEST_HAVE_GLOO 1
#endif
#if defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define DLNEST_HAVE_NCCL 1
#endif

namespace dlnest {

namespace {

// libtorch 1.x's backends derive from c10d::ProcessGroup; 2.x moved each backend's
// collectives to c10d::Backend. Construction and the collectives used here are the same.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

class C10dCommunicator final : public Communicator {
 public:
  C10dCommunicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<BackendBase> group,
                   torch::Device device)
      : store_(std::move(store)), group_(std::move(group)), device_(device) {}

  int rank() const override { return group_->getRank(); }
  int world_size() const override { return group_->getSize(); }

  void all_reduce_sum(std::vector<torch::Tensor>& tensors) override {
    run_each(tensors, [this](std::vector<at::Tensor>& one) { return group_->allreduce(one); });
  }

  void broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    run_each(tensors,
             [&](std::vector<at::Tensor>& one) { return group_->broadcast(one, options); });
  }

  void barrier() override {
    c10d::BarrierOptions options;
    if (device_.is_cuda()) options.device_ids = {device_.index()};
    group_->barrier(options)->wait();
  }

 private:
  /// Starts `start` on every tensor (each its own operation, so buckets are reduced
  /// concurrently), then waits for all of them. A failed or timed-out operation throws.
  template <typename Start>
  void run_each(std::vector<torch::Tensor>& tensors, Start&& start) {
    std::vector<std::vector<at::Tensor>> inputs;
    inputs.reserve(tensors.size());
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(tensors.size());
    for (const torch::Tensor& t : tensors) {
      inputs.push_back({t});
      works.push_back(start(inputs.back()));
    }
    for (auto& work : works) work->wait();
  }

  c10::intrusive_ptr<c10d::Store> store_;  // the group's connections were set up through it
  c10::intrusive_ptr<BackendBase> group_;
  torch::Device device_;
};

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

#ifdef DLNEST_HAVE_GLOO
c10::intrusive_ptr<BackendBase> make_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                          const CommGroupOptions& options) {
  auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
  // Loopback for a single machine; otherwise GLOO_SOCKET_IFNAME's interface, as in PyTorch, or
  // the address this host's name resolves to.
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (is_loopback(options.master_addr)) {
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else if (interface != nullptr && *interface != '\0') {
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  } else {
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, options.rank, options.world_size, gloo);
}
#endif

#ifdef DLNEST_HAVE_NCCL
c10::intrusive_ptr<BackendBase> make_nccl(const c10::intrusive_ptr<c10d::Store>& store,
                                          const CommGroupOptions& options) {
  // NCCL works on the current device: make it this rank's.
  c10::impl::getDeviceGuardImpl(options.device.type())->setDevice(options.device);
  auto nccl = c10d::ProcessGroupNCCL::Options::create();
  nccl->timeout = options.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, options.rank, options.world_size, nccl);
}
#endif

Result<c10::intrusive_ptr<BackendBase>> make_group(const c10::intrusive_ptr<c10d::Store>& store,
                                                   const CommGroupOptions& options) {
  if (options.device.is_cuda()) {
#ifdef DLNEST_HAVE_NCCL
    return make_nccl(store, options);
#else
    return Status::failed_precondition(
        "distributed training on GPUs needs NCCL, and this libtorch was built without it");
#endif
  }
#ifdef DLNEST_HAVE_GLOO
  return make_gloo(store, options);
#else
  return Status::failed_precondition(
      "distributed training on the CPU needs Gloo, and this libtorch has no Gloo headers; "
      "use GPUs (NCCL) or a libtorch with Gloo");
#endif
}

}  // namespace

bool has_backend_for(const torch::Device& device) {
#ifdef DLNEST_HAVE_NCCL
  if (device.is_cuda()) return true;
#endif
#ifdef DLNEST_HAVE_GLOO
  if (device.is_cpu()) return true;
#endif
  (void)device;
  return false;
}

Result<std::shared_ptr<Communicator>> connect_comm_group(const CommGroupOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return Status::invalid_argument("rank " + std::to_string(options.rank) + " of world size " +
                                    std::to_string(options.world_size) + " is out of range");
  }
  if (options.master_port <= 0 || options.master_port > 65535) {
    return Status::invalid_argument("master port " + std::to_string(options.master_port) +
                                    " is not a TCP port");
  }
  const std::string where = options.master_addr + ":" + std::to_string(options.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = static_cast<size_t>(options.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
    DLNEST_ASSIGN_OR_RETURN(auto group, make_group(store, options));
    return std::shared_ptr<Communicator>(
        std::make_shared<C10dCommunicator>(store, std::move(group), options.device));
  } catch (const c10::Error& e) {
    return Status::io_error("rank " + std::to_string(options.rank) + " cannot join the process " +
                            "group at " + where + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::io_error("rank " + std::to_string(options.rank) + " cannot join the process " +
                            "group at " + where + ": " + e.what());
  }
}

}  // namespace dlnest
