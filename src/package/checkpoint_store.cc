#include "dlnest/checkpoint_store.h"

#include <algorithm>
#include <limits>
#include <set>

#include "env/path.h"
#include "env/regular_file.h"

namespace dlnest {

namespace {

constexpr const char* kCheckpointSuffix = ".ckpt";
/// The index key of the interrupt checkpoint, written only when there is one.
constexpr const char* kInterruptKey = "ckpt_interrupt";

/// Moves every id of `track` to `dropped`.
void drop_all(std::deque<int>& track, std::vector<int>& dropped) {
  dropped.insert(dropped.end(), track.begin(), track.end());
  track.clear();
}

/// Appends `id` to `track`, dropping the oldest entries past `cap` into `dropped`.
void push(std::deque<int>& track, int id, int cap, std::vector<int>& dropped) {
  track.push_back(id);
  while (static_cast<int>(track.size()) > cap) {
    dropped.push_back(track.front());
    track.pop_front();
  }
}

Result<std::deque<int>> read_track(const Json& index, const char* key, const std::string& file) {
  std::deque<int> track;
  auto it = index.find(key);
  if (it == index.end()) return track;
  if (!it->is_array()) return Status::corruption(file + ": \"" + key + "\" must be an array");
  for (const Json& id : *it) {
    if (!id.is_number_integer() || id.get<long long>() < 0 ||
        id.get<long long>() >= std::numeric_limits<int>::max()) {
      return Status::corruption(file + ": \"" + key + "\" holds " + id.dump() +
                                ", not a checkpoint id");
    }
    track.push_back(id.get<int>());
  }
  return track;
}

/// The id in a checkpoint file name "<prefix><id>.ckpt", or -1.
int id_of_file(const std::string& name, const std::string& prefix) {
  const std::string suffix = kCheckpointSuffix;
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return -1;
  }
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  const bool numeric = std::all_of(digits.begin(), digits.end(),
                                   [](unsigned char c) { return c >= '0' && c <= '9'; });
  if (digits.size() > 9 || !numeric) return -1;
  return std::stoi(digits);
}

}  // namespace

Result<CheckpointArgs> CheckpointArgs::from_args(const Json& args) {
  CheckpointArgs out;
  auto it = args.find("checkpoint_args");
  if (it == args.end()) return out;
  DLNEST_RETURN_IF_ERROR(check_known_keys(Json{{"checkpoint_args", *it}}, "args"));
  out.max_ckpt_in_slow_track = it->value("max_ckpt_in_slow_track", out.max_ckpt_in_slow_track);
  out.dilation_in_slow_track = it->value("dilation_in_slow_track", out.dilation_in_slow_track);
  out.max_ckpt_in_fast_track = it->value("max_ckpt_in_fast_track", out.max_ckpt_in_fast_track);
  out.max_ckpt_in_consistent_track =
      it->value("max_ckpt_in_consistent_track", out.max_ckpt_in_consistent_track);
  out.every_steps = it->value("every_steps", out.every_steps);
  out.every_minutes = it->value("every_minutes", out.every_minutes);
  return out;
}

bool CheckpointTracks::holds(int id) const {
  auto in = [id](const std::deque<int>& t) { return std::find(t.begin(), t.end(), id) != t.end(); };
  return in(fast) || in(slow) || in(consistent) || in(interrupt);
}

std::vector<int> CheckpointTracks::ids() const {
  std::set<int> all(fast.begin(), fast.end());
  all.insert(slow.begin(), slow.end());
  all.insert(consistent.begin(), consistent.end());
  all.insert(interrupt.begin(), interrupt.end());
  return std::vector<int>(all.begin(), all.end());
}

int CheckpointTracks::latest() const {
  const std::vector<int> all = ids();
  return all.empty() ? -1 : all.back();
}

CheckpointStore::CheckpointStore(Env* env, std::string package_dir, const CheckpointArgs& args)
    : env_(env),
      package_dir_(std::move(package_dir)),
      checkpoint_dir_(path::join(package_dir_, kCheckpointDir)),
      args_(args) {}

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::open(Env* env,
                                                               const std::string& package_dir,
                                                               const CheckpointArgs& args) {
  std::unique_ptr<CheckpointStore> store(new CheckpointStore(env, package_dir, args));
  const std::string index_path = path::join(package_dir, kIndexFile);
  if (!env->file_exists(index_path)) return store;
  auto text = env->read_bounded_file(index_path, kMaxConfigFileBytes, package_dir);
  if (!text.is_ok()) return text.status();
  const Json index = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!index.is_object()) return Status::corruption(index_path + ": not a JSON object");
  auto fast = read_track(index, "ckpt_fast", index_path);
  auto slow = read_track(index, "ckpt_slow", index_path);
  auto consistent = read_track(index, "ckpt_consistent", index_path);
  auto interrupt = read_track(index, kInterruptKey, index_path);
  for (const auto* track : {&fast, &slow, &consistent, &interrupt}) {
    if (!track->is_ok()) return track->status();
  }
  store->tracks_ = {std::move(*fast), std::move(*slow), std::move(*consistent),
                    std::move(*interrupt)};
  auto prefix = index.find("prefix");
  if (prefix != index.end()) {
    if (!prefix->is_string() || prefix->get<std::string>().find('/') != std::string::npos) {
      return Status::corruption(index_path + ": \"prefix\" must be a file name prefix");
    }
    store->prefix_ = prefix->get<std::string>();
  }
  store->next_id_ = store->tracks_.latest() + 1;
  return store;
}

std::string CheckpointStore::file_of(int id) const {
  return path::join(checkpoint_dir_, prefix_ + std::to_string(id) + kCheckpointSuffix);
}

Status CheckpointStore::flush_index() { return write_index(tracks_); }

Status CheckpointStore::write_index(const CheckpointTracks& tracks) {
  Json index = {{"ckpt_consistent", tracks.consistent},
                {"ckpt_fast", tracks.fast},
                {"ckpt_slow", tracks.slow},
                {"prefix", prefix_}};
  if (!tracks.interrupt.empty()) index[kInterruptKey] = tracks.interrupt;
  return write_file_atomically(env_, path::join(package_dir_, kIndexFile), index.dump(4) + "\n");
}

void CheckpointStore::collect_garbage() {
  garbage_collected_ = true;
  const std::string index_tmp = path::join(package_dir_, kIndexFile) + std::string(kTempSuffix);
  if (env_->file_exists(index_tmp)) env_->remove_file(index_tmp);
  auto names = env_->list_dir(checkpoint_dir_);
  if (!names.is_ok()) return;
  for (const std::string& name : *names) {
    const bool temp = name.size() > kTempSuffix.size() &&
                      name.compare(name.size() - kTempSuffix.size(), kTempSuffix.size(),
                                   kTempSuffix) == 0;
    const int id = id_of_file(name, prefix_);
    if (temp || (id >= 0 && id < next_id_ && !tracks_.holds(id))) {
      env_->remove_file(path::join(checkpoint_dir_, name));
    }
  }
}

Result<int> CheckpointStore::save_as(
    const FileWriter& writer,
    const std::function<void(CheckpointTracks&, int, std::vector<int>&)>& place) {
  DLNEST_RETURN_IF_ERROR(env_->create_dirs(checkpoint_dir_));
  if (!garbage_collected_) collect_garbage();
  const int id = next_id_;
  // A file for `id` already exists after set_current_id() (or a failed save), and the index on
  // disk may still list it: write the current tracks first, so that a crash never pairs that
  // index with the new contents of the file.
  if (env_->file_exists(file_of(id))) DLNEST_RETURN_IF_ERROR(write_index(tracks_));
  DLNEST_RETURN_IF_ERROR(write_file_atomically(env_, file_of(id), writer));

  CheckpointTracks tracks = tracks_;
  std::vector<int> dropped;
  place(tracks, id, dropped);
  DLNEST_RETURN_IF_ERROR(write_index(tracks));

  tracks_ = std::move(tracks);
  next_id_ = id + 1;
  for (int old : dropped) {
    // A failed removal leaves an unheld file that collect_garbage() removes on a later open.
    if (!tracks_.holds(old) && env_->file_exists(file_of(old))) env_->remove_file(file_of(old));
  }
  return id;
}

Result<int> CheckpointStore::save(const FileWriter& writer, bool hold) {
  return save_as(writer, [&](CheckpointTracks& tracks, int id, std::vector<int>& dropped) {
    push(tracks.fast, id, args_.max_ckpt_in_fast_track, dropped);
    if (id % args_.dilation_in_slow_track == 0) {
      push(tracks.slow, id, args_.max_ckpt_in_slow_track, dropped);
    }
    if (hold) push(tracks.consistent, id, args_.max_ckpt_in_consistent_track, dropped);
    drop_all(tracks.interrupt, dropped);  // the run went on past it
  });
}

Result<int> CheckpointStore::save_interrupt(const FileWriter& writer) {
  return save_as(writer, [](CheckpointTracks& tracks, int id, std::vector<int>& dropped) {
    drop_all(tracks.interrupt, dropped);
    tracks.interrupt.push_back(id);
  });
}

Result<int> CheckpointStore::save(std::string_view bytes, bool hold) {
  return save([bytes](WritableFile& out) { return out.append(bytes); }, hold);
}

Result<std::string> CheckpointStore::path_of(int id) const {
  const int wanted = id == -1 ? latest_id() : id;
  if (wanted < 0 || !tracks_.holds(wanted)) {
    if (id == -1) return Status::not_found("package " + package_dir_ + " has no checkpoint");
    return Status::not_found("package " + package_dir_ + " holds no checkpoint " +
                             std::to_string(id) + " (held: " + Json(tracks_.ids()).dump() + ")");
  }
  return file_of(wanted);
}

Result<std::string> CheckpointStore::read(int id) const {
  auto file = path_of(id);
  if (!file.is_ok()) return file.status();
  return env_->read_file(*file);
}

Status CheckpointStore::set_current_id(int id) {
  if (!tracks_.holds(id)) {
    return Status::not_found("package " + package_dir_ + " holds no checkpoint " +
                             std::to_string(id) + " (held: " + Json(tracks_.ids()).dump() + ")");
  }
  auto drop_above = [id](std::deque<int>& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [id](int x) { return x > id; }), t.end());
  };
  drop_above(tracks_.fast);
  drop_above(tracks_.slow);
  drop_above(tracks_.consistent);
  drop_above(tracks_.interrupt);
  next_id_ = id + 1;
  return Status::ok();
}

}  // namespace dlnest
