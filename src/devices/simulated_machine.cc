#include "devices/simulated_machine.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dlnest {
namespace {

/// A file name part made of the task id's safe characters.
std::string safe(const std::string& task_id) {
  std::string out;
  for (char c : task_id) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  return out;
}

Status make_shared_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 01777) != 0 && errno != EEXIST) {
    return Status::io_error("simulated machine " + dir + ": " + std::strerror(errno));
  }
  ::chmod(dir.c_str(), 01777);  // fails harmlessly when another user made it
  return Status::ok();
}

bool process_lives(int pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

}  // namespace

double simulated_machine_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

Result<SimulatedMachine> SimulatedMachine::open(const std::string& dir, double alloc_delay_s) {
  DLNEST_RETURN_IF_ERROR(make_shared_dir(dir));
  DLNEST_RETURN_IF_ERROR(make_shared_dir(dir + "/holdings"));
  SimulatedMachine machine;
  machine.dir_ = dir;
  machine.alloc_delay_s_ = alloc_delay_s;
  return machine;
}

Status SimulatedMachine::place(const std::string& task_id, int gpu, std::int64_t mb, int pid) {
  // <gpu>-<pid>-<task>: one file per holding; "mb visible_at" inside.
  const std::string name = dir_ + "/holdings/" + std::to_string(gpu) + "-" + std::to_string(pid) +
                           "-" + safe(task_id);
  std::ofstream out(name + ".tmp", std::ios::trunc);
  out << mb << " " << std::fixed << simulated_machine_now() + alloc_delay_s_ << "\n";
  out.close();
  ::chmod((name + ".tmp").c_str(), 0644);
  if (!out || std::rename((name + ".tmp").c_str(), name.c_str()) != 0) {
    return Status::io_error("simulated machine: cannot record " + name);
  }
  return Status::ok();
}

void SimulatedMachine::remove(const std::string& task_id) {
  const std::string suffix = "-" + safe(task_id);
  DIR* d = ::opendir((dir_ + "/holdings").c_str());
  if (d == nullptr) return;
  std::vector<std::string> gone;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      gone.push_back(name);
    }
  }
  ::closedir(d);
  for (const std::string& name : gone) ::unlink((dir_ + "/holdings/" + name).c_str());
}

std::vector<SharedHolding> SimulatedMachine::holdings(double now) const {
  std::vector<SharedHolding> out;
  DIR* d = ::opendir((dir_ + "/holdings").c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    SharedHolding h;
    char task[256] = {0};
    if (std::sscanf(e->d_name, "%d-%d-%255s", &h.gpu, &h.pid, task) != 3) continue;
    h.task_id = task;
    if (h.task_id.size() > 4 && h.task_id.compare(h.task_id.size() - 4, 4, ".tmp") == 0) continue;
    if (!process_lives(h.pid)) continue;
    std::ifstream in(dir_ + "/holdings/" + e->d_name);
    double visible_at = 0;
    if (!(in >> h.mb >> visible_at)) continue;
    h.visible = now >= visible_at;
    out.push_back(h);
  }
  ::closedir(d);
  return out;
}

}  // namespace dlnest
