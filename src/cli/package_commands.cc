// `dlnest config` and `dlnest package`: the config merge and the save package, without a server.
#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "dlnest/save_package.h"
#include "env/path.h"
#include "package/args_history.h"

namespace dlnest::cli {

namespace {

std::string track_text(const std::deque<int>& track) {
  return Json(std::vector<int>(track.begin(), track.end())).dump();
}

void print_package(const SavePackage& package) {
  const Json& args = package.args();
  const CheckpointStore& store = package.checkpoints();
  std::cout << "package          " << package.root() << "\n";
  if (!package.description().empty())
    std::cout << "description      " << package.description() << "\n";
  for (const char* key : {"runner_name", "dataset_name", "life_cycle_name"}) {
    if (args.contains(key) && args[key].is_string()) {
      std::cout << std::left << std::setw(17) << key << args[key].get<std::string>() << "\n";
    }
  }
  std::cout << "checkpoints      prefix \"" << store.prefix() << "\", next id " << store.next_id()
            << "\n"
            << "  fast        " << track_text(store.tracks().fast) << "\n"
            << "  slow        " << track_text(store.tracks().slow) << "\n"
            << "  consistent  " << track_text(store.tracks().consistent) << "\n";
  for (int id : store.tracks().ids()) {
    auto file = store.path_of(id);
    std::cout << "  " << std::right << std::setw(4) << id << "  " << (file.is_ok() ? *file : "?")
              << "\n";
  }
}

/// The changes continues made to the package's args, one line each.
void print_args_history(const Json& history) {
  if (history.empty()) return;
  std::cout << "args changes\n";
  for (const Json& entry : history) {
    std::cout << "  " << entry.value("time", "?") << "  checkpoint "
              << entry.value("checkpoint_ID", Json(-1)).dump() << ":";
    const Json changed = entry.value("changed", Json::object());
    if (changed.empty()) std::cout << " nothing changed";
    bool first = true;
    for (const auto& [key, change] : changed.items()) {
      std::cout << (first ? " " : ", ") << key << " " << change.value("from", Json()).dump()
                << " -> " << change.value("to", Json()).dump();
      first = false;
    }
    std::cout << "\n";
  }
}

}  // namespace

void add_config_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("config", "Print the merged arguments of a project config");
  auto root = std::make_shared<std::string>();
  auto freq = std::make_shared<std::string>();
  cmd->add_option("-c,--config", *root, "root_config.json of the project")->required();
  cmd->add_option("-f,--freq", *freq, "freq config merged last");
  cmd->callback([root, freq, &exit_code] {
    auto config = load_config(*root, *freq);
    if (!config.is_ok()) {
      exit_code = fail(config.status());
      return;
    }
    std::cout << config->args.dump(4) << "\n";
  });
}

void add_package_command(CLI::App& app, int& exit_code, const ClientOptions& client) {
  auto* cmd = app.add_subcommand("package", "Create or inspect a save package");
  cmd->require_subcommand(1);

  auto* create = cmd->add_subcommand("create", "Create a save package from a project config");
  auto root = std::make_shared<std::string>();
  auto freq = std::make_shared<std::string>();
  auto options = std::make_shared<PackageOptions>();
  create->add_option("-c,--config", *root, "root_config.json of the project")->required();
  create->add_option("-f,--freq", *freq, "freq config merged last");
  create->add_option("-d,--description", options->description, "description of the run");
  create->add_flag("--ns,--no-save", options->no_save, "use the folder NOSAVE");
  create->add_flag("--sd,--save-by-description", options->use_description,
                   "name the folder by the description");
  create->callback([root, freq, options, &exit_code] {
    auto package = SavePackage::from_config(*root, *freq);
    Status s = package.is_ok() ? package->save_to_new_dir(*options) : package.status();
    if (!s.is_ok()) {
      exit_code = fail(s);
      return;
    }
    std::cout << package->root() << "\n";
  });

  auto* show = cmd->add_subcommand(
      "show", "Show a save package's checkpoints, tracks and the changes made to its args");
  auto dir = std::make_shared<std::string>();
  auto* record = show->add_option("-r,--record", *dir, "the package folder, or its task's id");
  show->add_option("package", *dir, "the package folder (as -r)")->excludes(record);
  show->callback([dir, &exit_code, &client] {
    if (dir->empty()) {
      exit_code = usage_error("dlnest package show: give the package with -r PKG");
      return;
    }
    Result<std::string> root = package_dir_of(client, *dir);
    auto package = root.is_ok() ? SavePackage::open(*root) : Result<SavePackage>(root.status());
    Result<Json> history =
        package.is_ok() ? read_args_history(package->root()) : Result<Json>(package.status());
    if (!history.is_ok()) {
      exit_code = fail(history.status());
      return;
    }
    print_package(*package);
    print_args_history(*history);
  });
}

}  // namespace dlnest::cli
