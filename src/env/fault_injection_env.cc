#include "env/fault_injection_env.h"

#include "env/path.h"
#include "env/regular_file.h"

namespace dlnest {

namespace {

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultInjectionEnv* env, std::string path, std::shared_ptr<FaultInjectionEnv::Node> node)
      : env_(env), path_(std::move(path)), node_(std::move(node)), generation_(env->generation()) {}

  Status append(std::string_view data) override {
    DLNEST_RETURN_IF_ERROR(usable(FaultInjectionEnv::Op::kAppend));
    node_->data.append(data);
    return Status::ok();
  }
  Status sync() override {
    DLNEST_RETURN_IF_ERROR(usable(FaultInjectionEnv::Op::kSync));
    node_->synced = node_->data;
    return Status::ok();
  }
  Status close() override {
    if (closed_) return Status::ok();
    closed_ = true;
    return usable(FaultInjectionEnv::Op::kClose);
  }

 private:
  Status usable(FaultInjectionEnv::Op op) {
    if (generation_ != env_->generation()) return Status::io_error(path_ + ": file lost in crash");
    return env_->check(op, path_);
  }

  FaultInjectionEnv* env_;
  std::string path_;
  std::shared_ptr<FaultInjectionEnv::Node> node_;
  int generation_;
  bool closed_ = false;
};

}  // namespace

void FaultInjectionEnv::fail_nth(Op op, int n) { fail_countdown_[op] = n; }

void FaultInjectionEnv::freeze_after(int n) { freeze_budget_ = n; }

void FaultInjectionEnv::clear_faults() {
  fail_countdown_.clear();
  freeze_budget_ = -1;
}

void FaultInjectionEnv::crash() {
  for (auto& [name, dir] : dirs_) {
    dir.live = dir.durable;
    for (auto& [file, node] : dir.live) node->data = node->synced;
  }
  ++generation_;
  clear_faults();
}

Status FaultInjectionEnv::check(Op op, const std::string& path) {
  ++ops_;
  if (freeze_budget_ == 0) return Status::io_error(path + ": injected crash (process stopped)");
  if (freeze_budget_ > 0) --freeze_budget_;
  auto it = fail_countdown_.find(op);
  if (it != fail_countdown_.end() && --it->second == 0) {
    fail_countdown_.erase(it);
    return Status::io_error(path + ": injected failure");
  }
  return Status::ok();
}

FaultInjectionEnv::Dir* FaultInjectionEnv::dir_of(const std::string& p) {
  auto it = dirs_.find(path::parent(path::normalize(p)));
  return it == dirs_.end() ? nullptr : &it->second;
}

std::shared_ptr<FaultInjectionEnv::Node> FaultInjectionEnv::lookup(const std::string& p) {
  Dir* dir = dir_of(p);
  if (dir == nullptr) return nullptr;
  auto it = dir->live.find(path::base_name(path::normalize(p)));
  return it == dir->live.end() ? nullptr : it->second;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::new_writable_file(const std::string& p) {
  Dir* dir = dir_of(p);
  if (dir == nullptr) return Status::not_found("cannot create " + p + ": no such directory");
  DLNEST_RETURN_IF_ERROR(check(Op::kCreate, p));
  auto& node = dir->live[path::base_name(path::normalize(p))];
  if (node == nullptr) node = std::make_shared<Node>();
  node->data.clear();
  return std::unique_ptr<WritableFile>(new FaultFile(this, p, node));
}

Result<std::string> FaultInjectionEnv::read_file(const std::string& p) {
  auto node = lookup(p);
  if (node == nullptr) return Status::not_found("cannot open " + p + ": No such file or directory");
  return node->data;
}

Result<std::string> FaultInjectionEnv::read_bounded_file(const std::string& p, size_t max_bytes,
                                                         const std::string& /*within*/) {
  // No symbolic links or special files here: only the size cap applies.
  DLNEST_ASSIGN_OR_RETURN(std::string data, read_file(p));
  if (data.size() > max_bytes) return file_too_large(p, max_bytes);
  return data;
}

bool FaultInjectionEnv::file_exists(const std::string& p) {
  return lookup(p) != nullptr || is_directory(p);
}

bool FaultInjectionEnv::is_directory(const std::string& p) {
  return dirs_.count(path::normalize(p)) > 0;
}

Result<std::vector<std::string>> FaultInjectionEnv::list_dir(const std::string& p) {
  const std::string dir_path = path::normalize(p);
  auto it = dirs_.find(dir_path);
  if (it == dirs_.end()) return Status::not_found("cannot list " + p + ": no such directory");
  std::set<std::string> names;
  for (const auto& [name, node] : it->second.live) names.insert(name);
  for (const auto& [other, dir] : dirs_) {
    if (other != dir_path && path::parent(other) == dir_path) names.insert(path::base_name(other));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Status FaultInjectionEnv::create_dirs(const std::string& p) {
  const std::string dir_path = path::normalize(p);
  if (dirs_.count(dir_path)) return Status::ok();
  if (dir_path != "/" && dir_path != ".") DLNEST_RETURN_IF_ERROR(create_dirs(path::parent(dir_path)));
  dirs_[dir_path];
  return Status::ok();
}

Status FaultInjectionEnv::create_dir(const std::string& p) {
  const std::string dir_path = path::normalize(p);
  if (dirs_.count(dir_path)) return Status::already_exists(p + " already exists");
  if (!is_directory(path::parent(dir_path))) {
    return Status::not_found("cannot create directory " + p + ": no parent");
  }
  dirs_[dir_path];
  return Status::ok();
}

Status FaultInjectionEnv::remove_file(const std::string& p) {
  Dir* dir = dir_of(p);
  const std::string name = path::base_name(path::normalize(p));
  if (dir == nullptr || dir->live.count(name) == 0) {
    return Status::not_found("cannot remove " + p + ": No such file or directory");
  }
  DLNEST_RETURN_IF_ERROR(check(Op::kRemove, p));
  dir->live.erase(name);
  return Status::ok();
}

Status FaultInjectionEnv::remove_tree(const std::string& p) {
  const std::string root = path::normalize(p);
  if (!is_directory(root)) return remove_file(root);
  DLNEST_RETURN_IF_ERROR(check(Op::kRemove, p));
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (it->first == root || !path::relative_inside(it->first, root).empty()) {
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
  return Status::ok();
}

Status FaultInjectionEnv::rename_file(const std::string& from, const std::string& to) {
  Dir* src = dir_of(from);
  Dir* dst = dir_of(to);
  const std::string from_name = path::base_name(path::normalize(from));
  if (src == nullptr || dst == nullptr || src->live.count(from_name) == 0) {
    return Status::not_found("cannot rename " + from + " to " + to + ": No such file or directory");
  }
  DLNEST_RETURN_IF_ERROR(check(Op::kRename, from));
  auto node = src->live[from_name];
  src->live.erase(from_name);
  dst->live[path::base_name(path::normalize(to))] = node;
  return Status::ok();
}

Status FaultInjectionEnv::sync_dir(const std::string& p) {
  auto it = dirs_.find(path::normalize(p));
  if (it == dirs_.end()) return Status::not_found("cannot sync " + p + ": no such directory");
  DLNEST_RETURN_IF_ERROR(check(Op::kSyncDir, p));
  it->second.durable = it->second.live;
  return Status::ok();
}

}  // namespace dlnest
