// SimpleCMDVisualize: after each Visualize stage whose iteration is a multiple of `stride`, one
// log line with the latest values of the log's `keys`, each formatted by `format[key]` (a Python
// format string taking the key and the value; default "\t| {}: {}").
#include "dlnest/train_plugin.h"
#include "plugins/python_format.h"

namespace dlnest {
namespace {

class SimpleCMDVisualize : public TrainPlugin {
 public:
  void init() override {
    const Json& stride = options()["stride"];
    if (!stride.is_number_integer() || stride.get<int64_t>() <= 0) {
      throw std::runtime_error("stride must be a whole number above 0, got " + stride.dump());
    }
    stride_ = stride.get<int64_t>();
    keys_ = option<std::vector<std::string>>("keys", {});
    formats_ = option<Json>("format", Json::object());
  }

  void after(const StageInfo& info) override {
    if (info.stage != Stage::kVisualize || info.iter % stride_ != 0) return;
    std::string line = "Iter : " + std::to_string(info.iter);
    for (const std::string& key : keys_) {
      const std::string format = formats_.value(key, std::string("\t| {}: {}"));
      Result<std::string> text = python_format(format, {key, latest(key)});
      if (text.is_ok()) {
        line += *text;
      } else {
        write_log(LogLevel::kDebug, "format of \"" + key + "\": " + text.status().message());
      }
    }
    write_log(LogLevel::kInfo, line);
  }

 private:
  /// The last value of the log's list `key`, the value itself when it is no list, else null.
  Json latest(const std::string& key) const {
    auto it = log().find(key);
    if (it == log().end()) return nullptr;
    if (!it->is_array()) return *it;
    return it->empty() ? Json(nullptr) : it->back();
  }

  int64_t stride_ = 1;
  std::vector<std::string> keys_;
  Json formats_;
};

}  // namespace
}  // namespace dlnest

using dlnest::SimpleCMDVisualize;
DLNEST_REGISTER_PLUGIN(SimpleCMDVisualize);
