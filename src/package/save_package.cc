#include "dlnest/save_package.h"

#include <ctime>
#include <random>

#include "config/json_file.h"
#include "env/path.h"

namespace dlnest {

namespace {

constexpr int kMaxNameAttempts = 200;
constexpr size_t kMaxMarkerLength = 200;

std::string time_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d_%H-%M-%S", &local);
  return buf;
}

std::string three_digits() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  const int n = std::uniform_int_distribution<int>(0, 999)(rng);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03d", n);
  return buf;
}

/// `text` made safe as one file-name component.
std::string file_name_safe(std::string text) {
  for (char& c : text) {
    if (c == '/' || c == '\0' || c == '\n') c = '_';
  }
  if (text.size() > kMaxMarkerLength) text.resize(kMaxMarkerLength);
  return text;
}

/// Where a project file goes in the package, relative to its root: the same relative path when
/// it lies inside the project root, else the package root.
std::string package_relative(const std::string& absolute_file, const std::string& project_root) {
  const std::string inside = path::relative_inside(absolute_file, project_root);
  return inside.empty() ? path::base_name(absolute_file) : inside;
}

}  // namespace

std::string SavePackage::output_file_for_rank(int rank) {
  std::string name = kOutputFile;
  name.insert(name.rfind('.'), "_" + std::to_string(rank));
  return name;
}

SavePackage::SavePackage(Json args, Env* env) : env_(env), args_(std::move(args)) {}

SavePackage::SavePackage(LoadedConfig config, Env* env)
    : env_(env), args_(std::move(config.args)), config_files_(std::move(config.config_files)) {}

Result<SavePackage> SavePackage::from_config(const std::string& config_path,
                                             const std::string& freq_path, Env* env) {
  auto config = load_config(config_path, freq_path, env);
  if (!config.is_ok()) return config.status();
  return SavePackage(std::move(*config), env);
}

Result<SavePackage> SavePackage::open(const std::string& dir, Env* env) {
  if (!env->is_directory(dir)) return Status::not_found("save package " + dir + ": no such folder");
  const std::string index = path::join(dir, kIndexFile);
  const std::string args_file = path::join(dir, kArgsFile);
  for (const std::string& needed : {index, args_file}) {
    if (!env->file_exists(needed)) {
      return Status::invalid_argument(dir + " is not a DLNest save package (no " +
                                      path::base_name(needed) + ")");
    }
  }
  auto args = read_json_object(env, args_file, dir);
  if (!args.is_ok()) return args.status();
  auto ckpt_args = CheckpointArgs::from_args(*args);
  if (!ckpt_args.is_ok()) return ckpt_args.status().with_context(args_file);
  auto store = CheckpointStore::open(env, dir, *ckpt_args);
  if (!store.is_ok()) return store.status();
  SavePackage package(std::move(*args), env);
  package.root_ = dir;
  package.store_ = std::move(*store);
  return package;
}

Status SavePackage::save_to_new_dir(const PackageOptions& options) {
  if (has_dir()) return Status::failed_precondition("package already saved to " + root_);
  DLNEST_RETURN_IF_ERROR(check_known_keys(args_, "args"));
  auto save_root = args_.find("save_root");
  if (save_root == args_.end()) return Status::invalid_argument("args: \"save_root\" is missing");
  auto folder = claim_folder(path::absolute(save_root->get<std::string>()), options);
  if (!folder.is_ok()) return folder.status();
  root_ = *folder;
  Status s = fill_folder(options);
  if (!s.is_ok()) {
    env_->remove_tree(root_);
    root_.clear();
    store_.reset();
  }
  return s;
}

Result<std::string> SavePackage::claim_folder(const std::string& save_root,
                                              const PackageOptions& options) {
  DLNEST_RETURN_IF_ERROR(env_->create_dirs(save_root));
  std::string fixed = options.name;
  if (fixed.empty() && options.no_save) fixed = kNoSaveName;
  if (fixed.empty() && options.use_description) {
    if (options.description.empty()) {
      return Status::invalid_argument("a package named by its description needs a description");
    }
    fixed = file_name_safe(options.description);
  }
  if (fixed == "." || fixed == ".." || fixed.find('/') != std::string::npos) {
    return Status::invalid_argument("package name \"" + fixed + "\" is not a folder name");
  }
  if (fixed == kNoSaveName && env_->is_directory(path::join(save_root, fixed))) {
    DLNEST_RETURN_IF_ERROR(env_->remove_tree(path::join(save_root, fixed)));
  }
  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    std::string name = fixed.empty() ? time_stamp() + "_" + three_digits() : fixed;
    if (!fixed.empty() && attempt > 0) name += "_" + std::to_string(attempt + 1);
    const std::string folder = path::join(save_root, name);
    Status s = env_->create_dir(folder);
    if (s.is_ok()) return folder;
    if (s.code() != Status::Code::kAlreadyExists) return s;
  }
  return Status::already_exists("cannot find a free package name under " + save_root);
}

Status SavePackage::fill_folder(const PackageOptions& options) {
  Json args = args_;
  if (options.copy_files) DLNEST_RETURN_IF_ERROR(copy_project_files(args));
  args["root_file_path"] = root_;
  DLNEST_RETURN_IF_ERROR(
      write_file_atomically(env_, path::join(root_, kArgsFile), args.dump(4) + "\n"));
  if (!options.description.empty()) {
    DLNEST_RETURN_IF_ERROR(save_visual_string(kDescPrefix + options.description));
  }
  auto ckpt_args = CheckpointArgs::from_args(args);
  if (!ckpt_args.is_ok()) return ckpt_args.status();
  auto store = CheckpointStore::open(env_, root_, *ckpt_args);
  if (!store.is_ok()) return store.status();
  DLNEST_RETURN_IF_ERROR(env_->create_dirs(path::join(root_, kCheckpointsDir)));
  DLNEST_RETURN_IF_ERROR((*store)->flush_index());
  store_ = std::move(*store);
  args_ = std::move(args);
  return Status::ok();
}

Status SavePackage::copy_project_files(Json& args) {
  const std::string project_root = args.value("root_file_path", std::string("."));
  for (const ProjectFile& file : resolve_project_files(args)) {
    if (!env_->file_exists(file.absolute)) {
      return Status::not_found("project file \"" + file.written + "\" (" + file.key.substr(1) +
                               "): no such file " + file.absolute);
    }
    const std::string rel = package_relative(file.absolute, project_root);
    DLNEST_RETURN_IF_ERROR(copy_tree(env_, file.absolute, path::join(root_, rel)));
    // A file outside the project root was copied to the package root: name the copy.
    if (rel != path::normalize(file.written)) args[Json::json_pointer(file.key)] = "./" + rel;
  }
  for (const std::string& config : config_files_) {
    DLNEST_RETURN_IF_ERROR(
        copy_tree(env_, config, path::join(root_, package_relative(config, project_root))));
  }
  return Status::ok();
}

Status SavePackage::require_dir() const {
  if (has_dir()) return Status::ok();
  return Status::failed_precondition("the package has no folder yet: call save_to_new_dir()");
}

Result<int> SavePackage::save_checkpoint(const FileWriter& writer, bool hold) {
  DLNEST_RETURN_IF_ERROR(require_dir());
  return store_->save(writer, hold);
}

Result<int> SavePackage::save_checkpoint(std::string_view bytes, bool hold) {
  DLNEST_RETURN_IF_ERROR(require_dir());
  return store_->save(bytes, hold);
}

Result<int> SavePackage::save_interrupt_checkpoint(const FileWriter& writer) {
  DLNEST_RETURN_IF_ERROR(require_dir());
  return store_->save_interrupt(writer);
}

Result<std::string> SavePackage::load_checkpoint(int id) const {
  DLNEST_RETURN_IF_ERROR(require_dir());
  return store_->read(id);
}

Result<std::string> SavePackage::checkpoint_path(int id) const {
  DLNEST_RETURN_IF_ERROR(require_dir());
  return store_->path_of(id);
}

Status SavePackage::set_checkpoint_id(int id) {
  DLNEST_RETURN_IF_ERROR(require_dir());
  return store_->set_current_id(id);
}

Status SavePackage::save_visual_string(const std::string& text) {
  if (root_.empty()) return require_dir();
  const std::string marker = path::join(root_, file_name_safe(text));
  auto file = env_->new_writable_file(marker);
  if (!file.is_ok()) return file.status();
  return (*file)->close();
}

std::string SavePackage::description() const {
  if (root_.empty()) return "";
  auto names = env_->list_dir(root_);
  if (!names.is_ok()) return "";
  const std::string prefix = kDescPrefix;
  for (const std::string& name : *names) {
    if (name.compare(0, prefix.size(), prefix) == 0) return name.substr(prefix.size());
  }
  return "";
}

}  // namespace dlnest
