#include "project/source_stage.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "dlnest/save_package.h"
#include "env/path.h"

namespace dlnest {

namespace {

constexpr uint64_t kFnvPrime = 1099511628211ull;

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// `base` + "/" + `rel`, or `base` itself for the root ("").
std::string below(const std::string& base, const std::string& rel) {
  return rel.empty() ? base : path::join(base, rel);
}

Status write_plain(Env* env, const std::string& file, const std::string& data) {
  auto out = env->new_writable_file(file);
  if (!out.is_ok()) return out.status();
  Status s = (*out)->append(data);
  Status closed = (*out)->close();
  return s.is_ok() ? closed : s;
}

/// Walks the package and brings the stage in step with it.
class Stager {
 public:
  Stager(Env* env, std::string package_dir, std::string stage_dir)
      : env_(env), package_(std::move(package_dir)), stage_(std::move(stage_dir)) {}

  /// Stages the folder `rel` (relative to the package; "" is its root) and everything below.
  Status sync_folder(const std::string& rel);
  StageSummary finish() {
    summary_.digest = digest_.hex();
    return summary_;
  }

 private:
  Status sync_file(const std::string& rel);
  Status remove_extra(const std::string& rel, const std::vector<std::string>& kept);

  Env* env_;
  std::string package_;
  std::string stage_;
  Digest digest_;
  StageSummary summary_;
};

Status Stager::sync_folder(const std::string& rel) {
  const std::string target = below(stage_, rel);
  if (env_->file_exists(target) && !env_->is_directory(target)) {
    DLNEST_RETURN_IF_ERROR(env_->remove_file(target));
  }
  DLNEST_RETURN_IF_ERROR(env_->create_dirs(target));
  DLNEST_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->list_dir(below(package_, rel)));
  std::vector<std::string> kept;
  for (const std::string& name : names) {
    if (rel.empty() && is_package_record(name)) continue;
    kept.push_back(name);
    const std::string child = rel.empty() ? name : rel + "/" + name;
    DLNEST_RETURN_IF_ERROR(env_->is_directory(path::join(package_, child)) ? sync_folder(child)
                                                                           : sync_file(child));
  }
  return remove_extra(rel, kept);
}

Status Stager::sync_file(const std::string& rel) {
  DLNEST_ASSIGN_OR_RETURN(std::string data, env_->read_file(path::join(package_, rel)));
  digest_.add(rel).add(data);
  ++summary_.files;
  const std::string target = path::join(stage_, rel);
  if (env_->is_directory(target)) {
    DLNEST_RETURN_IF_ERROR(env_->remove_tree(target));
  } else if (env_->file_exists(target)) {
    auto staged = env_->read_file(target);
    if (staged.is_ok() && *staged == data) return Status::ok();
  }
  ++summary_.written;
  return write_plain(env_, target, data);
}

Status Stager::remove_extra(const std::string& rel, const std::vector<std::string>& kept) {
  const std::string folder = below(stage_, rel);
  DLNEST_ASSIGN_OR_RETURN(std::vector<std::string> staged, env_->list_dir(folder));
  for (const std::string& name : staged) {
    if (std::binary_search(kept.begin(), kept.end(), name)) continue;
    DLNEST_RETURN_IF_ERROR(env_->remove_tree(path::join(folder, name)));
    ++summary_.removed;
  }
  return Status::ok();
}

}  // namespace

Digest& Digest::add(std::string_view piece) {
  add(static_cast<uint64_t>(piece.size()));
  for (unsigned char c : piece) {
    h_ ^= c;
    h_ *= kFnvPrime;
  }
  return *this;
}

Digest& Digest::add(uint64_t number) {
  for (int i = 0; i < 8; ++i) {
    h_ ^= (number >> (8 * i)) & 0xff;
    h_ *= kFnvPrime;
  }
  return *this;
}

std::string Digest::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

bool is_package_record(const std::string& name) {
  return name.empty() || name[0] == '_' || name[0] == '.' || name == SavePackage::kArgsFile ||
         name == SavePackage::kCheckpointsDir || name == SavePackage::kPluginFile ||
         ends_with(name, kTempSuffix);
}

Result<StageSummary> stage_package(Env* env, const std::string& package_dir,
                                   const std::string& stage_dir) {
  if (!env->is_directory(package_dir)) {
    return Status::not_found("save package " + package_dir + ": no such folder");
  }
  Stager stager(env, package_dir, stage_dir);
  DLNEST_RETURN_IF_ERROR(stager.sync_folder(""));
  return stager.finish();
}

}  // namespace dlnest
