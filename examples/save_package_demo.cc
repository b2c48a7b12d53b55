// The save package on its own: create a package from a config, save checkpoints through the
// fast / slow / consistent tracks, continue from an older checkpoint, and reopen it.
//
//   save_package_demo root_config.json [freq_config.json]
#include <iostream>

#include "dlnest/save_package.h"

namespace {

int fail(const dlnest::Status& status) {
  std::cerr << "save_package_demo: " << status.message() << "\n";
  return 1;
}

void print_tracks(const dlnest::SavePackage& package) {
  const auto& tracks = package.checkpoints().tracks();
  auto text = [](const std::deque<int>& t) {
    return dlnest::Json(std::vector<int>(t.begin(), t.end())).dump();
  };
  std::cout << "  fast " << text(tracks.fast) << "  slow " << text(tracks.slow) << "  consistent "
            << text(tracks.consistent) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: save_package_demo root_config.json [freq_config.json]\n";
    return 2;
  }
  auto package = dlnest::SavePackage::from_config(argv[1], argc > 2 ? argv[2] : "");
  if (!package.is_ok()) return fail(package.status());
  dlnest::Status s = package->save_to_new_dir(dlnest::PackageOptions().with_description("demo"));
  if (!s.is_ok()) return fail(s);
  std::cout << "created " << package->root() << "\n";

  for (int epoch = 0; epoch < 8; ++epoch) {
    const bool best = epoch == 4;  // what a LifeCycle's hold_this_checkpoint would decide
    auto id = package->save_checkpoint("weights after epoch " + std::to_string(epoch), best);
    if (!id.is_ok()) return fail(id.status());
    std::cout << "saved checkpoint " << *id << (best ? " (held)" : "") << "\n";
    print_tracks(*package);
  }

  auto reopened = dlnest::SavePackage::open(package->root());
  if (!reopened.is_ok()) return fail(reopened.status());
  auto held = reopened->load_checkpoint(4);
  if (!held.is_ok()) return fail(held.status());
  std::cout << "checkpoint 4 holds: \"" << *held << "\"\n";
  s = reopened->set_checkpoint_id(4);
  if (!s.is_ok()) return fail(s);
  auto id = reopened->save_checkpoint("continued from checkpoint 4");
  if (!id.is_ok()) return fail(id.status());
  std::cout << "continued from 4, saved checkpoint " << *id << "\n";
  print_tracks(*reopened);
  return 0;
}
