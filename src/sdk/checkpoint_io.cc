#include "sdk/checkpoint_io.h"

#include <ATen/Context.h>
#include <torch/version.h>

namespace dlnest {

namespace {

/// 2 added dlnest_next_iter and rng_ranks; format 1 reads as a checkpoint at an epoch's end.
constexpr int64_t kFormatVersion = 2;

/// The libtorch that wrote the checkpoint, e.g. "2.11.0" (optional: older checkpoints lack it).
constexpr char kLibtorchKey[] = "dlnest_libtorch";

/// libtorch 2.2 and later read an optimizer's saved state keys as decimal numbers (the addresses
/// of the parameters when it was saved); 2.1 and older wrote them as hexadecimal ("0x5643..."),
/// which the newer reader turns into 0 for every parameter, leaving null states that the next
/// step() dereferences. Older readers compare the keys as strings and read both forms.
constexpr bool kReadsDecimalStateKeys =
    TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2);

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toStringRef();
}

/// The default generators: the CPU one, then one per visible GPU.
std::vector<at::Generator> generators() {
  std::vector<at::Generator> out = {at::detail::getDefaultCPUGenerator()};
  if (torch::cuda::is_available()) {
    // device_count() is size_t in 1.13 and c10::DeviceIndex (signed) in 2.x.
    const int count = static_cast<int>(torch::cuda::device_count());
    for (int i = 0; i < count; ++i) {
      out.push_back(at::globalContext().defaultGenerator(
          c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i))));
    }
  }
  return out;
}

void write_rng(torch::serialize::OutputArchive& archive) {
  torch::serialize::OutputArchive rng;
  std::vector<at::Generator> gens = generators();
  for (size_t i = 0; i < gens.size(); ++i) {
    std::lock_guard<std::mutex> lock(gens[i].mutex());
    rng.write("g" + std::to_string(i), gens[i].get_state(), /*is_buffer=*/true);
  }
  archive.write("rng", rng);
}

void read_rng(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive rng;
  archive.read("rng", rng);
  std::vector<at::Generator> gens = generators();
  for (size_t i = 0; i < gens.size(); ++i) {
    torch::Tensor state;
    // A checkpoint from a machine with fewer GPUs leaves the extra generators as they are.
    if (!rng.try_read("g" + std::to_string(i), state, /*is_buffer=*/true)) continue;
    std::lock_guard<std::mutex> lock(gens[i].mutex());
    gens[i].set_state(state.to(torch::kCPU));
  }
}

/// Sets this process's generators from a rng_state() tensor.
void set_rng_state(const torch::Tensor& packed) {
  std::vector<at::Generator> gens = generators();
  int64_t offset = 0;
  for (at::Generator& gen : gens) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    const int64_t size = gen.get_state().numel();
    TORCH_CHECK(offset + size <= packed.numel(), "the checkpoint's generator states of this rank ",
                "are for another machine");
    gen.set_state(packed.slice(0, offset, offset + size).clone());
    offset += size;
  }
}

void write_rank_rng(torch::serialize::OutputArchive& archive, const std::vector<torch::Tensor>& all) {
  if (all.empty()) return;
  torch::serialize::OutputArchive ranks;
  for (size_t r = 0; r < all.size(); ++r) {
    ranks.write("r" + std::to_string(r), all[r], /*is_buffer=*/true);
  }
  archive.write("rng_ranks", ranks);
}

/// The generators of rank `rank` when the checkpoint has them (a DDP run saved inside an epoch).
void read_rank_rng(torch::serialize::InputArchive& archive, int rank) {
  torch::serialize::InputArchive ranks;
  if (!archive.try_read("rng_ranks", ranks)) return;
  torch::Tensor packed;
  if (ranks.try_read("r" + std::to_string(rank), packed, /*is_buffer=*/true)) {
    set_rng_state(packed.to(torch::kCPU));
  }
}

int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key, int64_t fallback) {
  c10::IValue value;
  return archive.try_read(key, value) ? value.toInt() : fallback;
}

void write_optimizers(torch::serialize::OutputArchive& archive, const Runner& runner) {
  torch::serialize::OutputArchive all;
  for (const auto& [name, optimizer] : runner.optimizers()) {
    torch::serialize::OutputArchive one;
    optimizer->save(one);
    // Optimizer::load does not restore the param-group options: keep the learning rates.
    std::vector<double> lrs;
    for (const auto& group : optimizer->param_groups()) lrs.push_back(group.options().get_lr());
    one.write("dlnest_lrs", torch::tensor(lrs, torch::kDouble), /*is_buffer=*/true);
    all.write(name, one);
  }
  archive.write("optimizers", all);
}

/// True when the saved state of one optimizer (`Optimizer::save`) is keyed the way libtorch 2.1
/// and older wrote it, by hexadecimal addresses. An empty state (no step taken) is not.
bool has_hexadecimal_state_keys(torch::serialize::InputArchive& optimizer) {
  torch::serialize::InputArchive state;
  if (!optimizer.try_read("state", state)) return false;
  for (const std::string& key : state.keys()) {
    if (key.rfind("0x", 0) == 0) return true;
  }
  return false;
}

/// Refuses, before anything is loaded, a checkpoint whose optimizer state this libtorch would
/// load wrongly (and then crash on at the next step), naming the file, the optimizer and both
/// libtorch versions.
void check_optimizers_readable(torch::serialize::InputArchive& archive, const std::string& file,
                               const Runner& runner) {
  if (!kReadsDecimalStateKeys) return;
  torch::serialize::InputArchive all;
  if (!archive.try_read("optimizers", all)) return;
  c10::IValue recorded;
  const std::string writer =
      archive.try_read(kLibtorchKey, recorded) && recorded.isString()
          ? "libtorch " + recorded.toStringRef()
          : "libtorch 2.1 or older (the checkpoint does not record its libtorch; e.g. Debian's "
            "1.13)";
  for (const auto& entry : runner.optimizers()) {
    const std::string& name = entry.first;
    torch::serialize::InputArchive one;
    if (!all.try_read(name, one)) continue;  // read_optimizers() names it
    TORCH_CHECK(!has_hexadecimal_state_keys(one), file, ": the state of optimizer '", name,
                "' was saved under ", writer, ", and this is libtorch ", TORCH_VERSION,
                ", which cannot load an optimizer state saved before libtorch 2.2 (it would "
                "crash at the next step). Continue this run with a DLNest built against "
                "libtorch 2.1 or older, or take its module weights, which load under any "
                "libtorch, into a new run (docs/training.md, \"Checkpoints across libtorch "
                "versions\")");
  }
}

void read_optimizers(torch::serialize::InputArchive& archive, Runner& runner) {
  torch::serialize::InputArchive all;
  archive.read("optimizers", all);
  for (const auto& [name, optimizer] : runner.optimizers()) {
    torch::serialize::InputArchive one;
    all.read(name, one);
    optimizer->load(one);
    torch::Tensor lrs;
    one.read("dlnest_lrs", lrs, /*is_buffer=*/true);
    lrs = lrs.to(torch::kCPU);
    auto& groups = optimizer->param_groups();
    TORCH_CHECK(lrs.numel() == static_cast<int64_t>(groups.size()), "optimizer '", name,
                "' has ", groups.size(), " param groups, the checkpoint ", lrs.numel());
    for (size_t i = 0; i < groups.size(); ++i) {
      groups[i].options().set_lr(lrs[static_cast<int64_t>(i)].item<double>());
    }
  }
}

}  // namespace

torch::Tensor rng_state() {
  std::vector<torch::Tensor> parts;
  for (at::Generator& gen : generators()) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    parts.push_back(gen.get_state().to(torch::kCPU));
  }
  return torch::cat(parts);
}

Status write_checkpoint(WritableFile& out, const Runner& runner, const Dataset& dataset,
                        const LifeCycle& life_cycle, const TrainProgress& progress) {
  torch::serialize::OutputArchive archive;
  archive.write("dlnest_format", c10::IValue(kFormatVersion));
  archive.write(kLibtorchKey, c10::IValue(std::string(TORCH_VERSION)));
  archive.write("dlnest_epoch", c10::IValue(static_cast<int64_t>(progress.finished_epoch)));
  archive.write("dlnest_next_iter", c10::IValue(progress.next_iter));
  archive.write("dlnest_log", c10::IValue(progress.log.dump()));
  if (!progress.metrics.is_null()) {
    archive.write("dlnest_metrics", c10::IValue(progress.metrics.dump()));
  }
  archive.write("dlnest_runner", c10::IValue(runner.state_dict().dump()));
  archive.write("dlnest_dataset", c10::IValue(dataset.state_dict().dump()));
  archive.write("dlnest_life_cycle", c10::IValue(life_cycle.state_dict().dump()));
  torch::serialize::OutputArchive modules;
  for (const auto& [name, module] : runner.modules()) {
    torch::serialize::OutputArchive one;
    module->save(one);
    modules.write(name, one);
  }
  archive.write("modules", modules);
  write_optimizers(archive, runner);
  torch::serialize::OutputArchive schedulers;
  for (const auto& [name, scheduler] : runner.lr_schedulers()) {
    schedulers.write(name, c10::IValue(scheduler->steps()));
  }
  archive.write("schedulers", schedulers);
  write_rng(archive);
  write_rank_rng(archive, progress.rank_rng);

  Status status;
  try {
    // After a failed write the rest is dropped but reported as written: libtorch's writer throws
    // on a short write, and then again from its destructor, which ends the process.
    archive.save_to([&out, &status](const void* data, size_t size) -> size_t {
      if (status.is_ok()) status = out.append(std::string_view(static_cast<const char*>(data), size));
      return size;
    });
  } catch (const c10::Error& e) {
    if (status.is_ok()) status = Status::io_error(e.what_without_backtrace());
  }
  return status;
}

TrainProgress read_checkpoint(const std::string& file, const torch::Device& device, Runner& runner,
                              Dataset& dataset, LifeCycle& life_cycle, int rank) {
  torch::serialize::InputArchive archive;
  archive.load_from(file, device);
  c10::IValue format;
  archive.read("dlnest_format", format);
  TORCH_CHECK(format.toInt() >= 1 && format.toInt() <= kFormatVersion, file,
              ": checkpoint format ", format.toInt(), ", this runtime reads 1 to ", kFormatVersion);
  check_optimizers_readable(archive, file, runner);
  torch::serialize::InputArchive modules;
  archive.read("modules", modules);
  for (const auto& [name, module] : runner.modules()) {
    torch::serialize::InputArchive one;
    modules.read(name, one);
    module->load(one);
  }
  torch::serialize::InputArchive schedulers;
  archive.read("schedulers", schedulers);
  for (const auto& [name, scheduler] : runner.lr_schedulers()) {
    c10::IValue steps;
    schedulers.read(name, steps);
    scheduler->fast_forward(steps.toInt());
  }
  // After the schedulers: their replay moves the learning rates, the checkpoint's are exact.
  read_optimizers(archive, runner);
  runner.load_state_dict(Json::parse(read_string(archive, "dlnest_runner")));
  dataset.load_state_dict(Json::parse(read_string(archive, "dlnest_dataset")));
  life_cycle.load_state_dict(Json::parse(read_string(archive, "dlnest_life_cycle")));
  TrainProgress progress;
  c10::IValue epoch;
  archive.read("dlnest_epoch", epoch);
  progress.finished_epoch = static_cast<int>(epoch.toInt());
  progress.next_iter = read_int(archive, "dlnest_next_iter", 0);
  progress.log = Json::parse(read_string(archive, "dlnest_log"));
  c10::IValue metrics;
  if (archive.try_read("dlnest_metrics", metrics)) progress.metrics = Json::parse(metrics.toStringRef());
  read_rng(archive);
  read_rank_rng(archive, rank);
  return progress;
}

}  // namespace dlnest
