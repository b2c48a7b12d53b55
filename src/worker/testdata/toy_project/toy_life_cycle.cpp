// A LifeCycle that records every hook and decision (args "record_hooks") to hooks.txt, skips the
// stages listed in args "skip" ("Stage@epoch" or "Stage@epoch:iter") and, when the environment
// names a stage in TOY_FAIL_AT ("Stage@epoch"), throws there like a bug in user code would: on
// every rank, or only on rank TOY_FAIL_RANK when that is set. Visualize runs every step when
// args "visualize" is true. ToyPlugin, a training plugin, records its hooks to hooks.txt too.
#include <dlnest/life_cycle.h>
#include <dlnest/train_plugin.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace {

std::string tag(const dlnest::StageInfo& info) {
  std::string t = std::string(dlnest::stage_name(info.stage)) + "@" + std::to_string(info.epoch);
  if (info.iter >= 0) t += ":" + std::to_string(info.iter);
  return t;
}

}  // namespace

class ToyLifeCycle : public dlnest::LifeCycle {
 public:
  dlnest::Action before(const dlnest::StageInfo& info) override {
    record("before " + tag(info));
    const char* fail = std::getenv("TOY_FAIL_AT");
    const char* fail_rank = std::getenv("TOY_FAIL_RANK");
    const char* rank = std::getenv("RANK");  // set by the DDP launcher
    const bool this_rank =
        fail_rank == nullptr || std::atoi(fail_rank) == (rank == nullptr ? 0 : std::atoi(rank));
    if (fail != nullptr && tag(info) == fail && this_rank) {
      throw std::runtime_error("injected failure");
    }
    const auto& skip = args()["skip"];
    const bool skipped = std::find(skip.begin(), skip.end(), tag(info)) != skip.end();
    return skipped ? dlnest::Action::kSkip : dlnest::Action::kRun;
  }
  void after(const dlnest::StageInfo& info) override { record("after " + tag(info)); }
  void command_line_output(int epoch, dlnest::Json& log, const dlnest::Json&) override {
    record("command_line_output " + std::to_string(epoch));
    if (!log["loss"].empty()) std::cout << "epoch " << epoch << " loss " << log["loss"].back() << std::endl;
  }
  bool need_visualize(int, int, dlnest::Json&, const dlnest::Json& args) override {
    return args.value("visualize", false);
  }
  bool need_validation(int epoch, dlnest::Json&, const dlnest::Json&) override {
    record("need_validation " + std::to_string(epoch));
    return true;
  }
  bool need_save_model(int epoch, dlnest::Json&, const dlnest::Json&) override {
    record("need_save_model " + std::to_string(epoch));
    return true;
  }
  bool hold_this_checkpoint(int epoch, dlnest::Json& log, const dlnest::Json&) override {
    record("hold_this_checkpoint " + std::to_string(epoch));
    const double acc = log["acc"].empty() ? 0.0 : log["acc"].back().get<double>();
    if (acc <= best_) return false;
    best_ = acc;
    return true;
  }
  bool need_continue_train(int epoch, dlnest::Json& log, const dlnest::Json& args) override {
    record("need_continue_train " + std::to_string(epoch));
    return dlnest::LifeCycle::need_continue_train(epoch, log, args);
  }
  dlnest::Json state_dict() const override { return {{"best", best_}}; }
  void load_state_dict(const dlnest::Json& state) override { best_ = state["best"]; }

 private:
  void record(const std::string& line) {
    if (!args().value("record_hooks", false)) return;
    std::ofstream("hooks.txt", std::ios::app) << line << "\n";
  }

  double best_ = -1.0;
};
DLNEST_REGISTER_LIFE_CYCLE(ToyLifeCycle);

class ToyPlugin : public dlnest::TrainPlugin {
 public:
  void init() override { record("init " + options().dump()); }
  void before(const dlnest::StageInfo& info) override { record("before " + tag(info)); }
  void after(const dlnest::StageInfo& info) override { record("after " + tag(info)); }
  void on_abort(const std::string& error) override { record("on_abort " + error); }
  void on_finish() override { record("on_finish"); }

 private:
  static void record(const std::string& line) {
    std::ofstream("hooks.txt", std::ios::app) << "plugin " << line << "\n";
  }
};
DLNEST_REGISTER_PLUGIN(ToyPlugin);
