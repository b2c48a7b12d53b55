#include "dlnest/env.h"

#include "env/path.h"

namespace dlnest {

Status write_file_atomically(Env* env, const std::string& path, const FileWriter& writer) {
  const std::string tmp = path + std::string(kTempSuffix);
  auto file = env->new_writable_file(tmp);
  if (!file.is_ok()) return file.status();
  Status s = writer(**file);
  if (s.is_ok()) s = (*file)->sync();
  Status closed = (*file)->close();
  if (s.is_ok()) s = closed;
  if (s.is_ok()) s = env->rename_file(tmp, path);
  if (!s.is_ok()) {
    env->remove_file(tmp);
    return s;
  }
  return env->sync_dir(path::parent(path));
}

Status write_file_atomically(Env* env, const std::string& path, std::string_view contents) {
  return write_file_atomically(env, path,
                               [contents](WritableFile& out) { return out.append(contents); });
}

Status copy_file(Env* env, const std::string& from, const std::string& to) {
  auto data = env->read_file(from);
  if (!data.is_ok()) return data.status();
  auto file = env->new_writable_file(to);
  if (!file.is_ok()) return file.status();
  Status s = (*file)->append(*data);
  Status closed = (*file)->close();
  return s.is_ok() ? closed : s;
}

Status copy_tree(Env* env, const std::string& from, const std::string& to) {
  if (!env->is_directory(from)) {
    DLNEST_RETURN_IF_ERROR(env->create_dirs(path::parent(to)));
    return copy_file(env, from, to);
  }
  DLNEST_RETURN_IF_ERROR(env->create_dirs(to));
  auto names = env->list_dir(from);
  if (!names.is_ok()) return names.status();
  for (const std::string& name : *names) {
    DLNEST_RETURN_IF_ERROR(copy_tree(env, path::join(from, name), path::join(to, name)));
  }
  return Status::ok();
}

}  // namespace dlnest
