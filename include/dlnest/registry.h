// Registration of a project's classes by name, so that `runner_name`, `dataset_name` and
// `life_cycle_name` in the config pick them. Torch-free.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dlnest {

/// Factories of one base class, by name.
template <typename Base>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>()>;

  void add(const std::string& name, Factory factory) { factories_[name] = std::move(factory); }
  /// A new instance of `name`, or nullptr when no class of that name is registered.
  std::unique_ptr<Base> make(const std::string& name) const {
    auto it = factories_.find(name);
    return it == factories_.end() ? nullptr : it->second();
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, factory] : factories_) out.push_back(name);
    return out;
  }

 private:
  std::map<std::string, Factory> factories_;
};

/// Registers `Class` under its own name in `registry` when the plugin is loaded.
template <typename Base, typename Class>
struct Registration {
  Registration(Registry<Base>& registry, const char* name) {
    registry.add(name, [] { return std::unique_ptr<Base>(new Class()); });
  }
};

}  // namespace dlnest
