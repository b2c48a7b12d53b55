// Helpers shared by the state store's tests.
#pragma once

#include <string>

#include "state/state_store.h"

namespace dlnest::testing {

/// A clock that returns `*now`, so tests choose the times the store records.
inline StateStore::Clock fake_clock(const double* now) {
  return [now] { return *now; };
}

/// A Pending training task named `id`.
inline TaskRecord pending_task(const std::string& id) {
  TaskRecord task;
  task.id = id;
  task.args = Json{{"epochs", 1}};
  task.submit_time = 100;
  return task;
}

}  // namespace dlnest::testing
