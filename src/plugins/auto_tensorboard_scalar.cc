// AutoTensorboardScalar: after each Visualize stage, the new last value of every numeric list of
// the log goes to TensorBoard as scalar `<key>` at step `len(list) - 1`, as in the original. The
// events go to the package's tensorboard/visualize/ (a run of their own next to the metrics'
// events), written by the metrics' EventFileWriter.
#include <chrono>
#include <map>
#include <optional>

#include "dlnest/train_plugin.h"
#include "env/path.h"
#include "metrics/event_file.h"

namespace dlnest {
namespace {

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class AutoTensorboardScalar : public TrainPlugin {
 public:
  void after(const StageInfo& info) override {
    if (info.stage != Stage::kVisualize || !open()) return;
    for (const auto& [key, value] : log().items()) {
      if (!value.is_array() || value.empty() || !value.back().is_number()) continue;
      const size_t size = value.size();
      if (written_[key] == size) continue;
      Status s = writer_->add_scalar(wall_time(), static_cast<int64_t>(size) - 1, key,
                                     value.back().get<float>());
      if (!s.is_ok()) {
        write_log(LogLevel::kDebug, s.message());
        continue;
      }
      written_[key] = size;
    }
  }

 private:
  /// Creates the event file at the first Visualize; false (said once) when it cannot be.
  bool open() {
    if (writer_ || failed_) return writer_.has_value();
    const std::string dir = path::join(package_dir(), "tensorboard/visualize");
    Result<EventFileWriter> writer = EventFileWriter::create(dir, wall_time(), -1);
    if (!writer.is_ok()) {
      failed_ = true;
      write_log(LogLevel::kError, writer.status().message());
      return false;
    }
    writer_.emplace(std::move(*writer));
    return true;
  }

  std::optional<EventFileWriter> writer_;
  bool failed_ = false;
  std::map<std::string, size_t> written_;
};

}  // namespace
}  // namespace dlnest

using dlnest::AutoTensorboardScalar;
DLNEST_REGISTER_PLUGIN(AutoTensorboardScalar);
