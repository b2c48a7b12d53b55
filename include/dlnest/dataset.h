// Dataset: builds the data of a run (train and validation loaders) from the args.
#pragma once

#include <memory>

#include "dlnest/data_loader.h"
#include "dlnest/life_cycle.h"
#include "dlnest/registry.h"

namespace dlnest {

/// What Dataset::init returns.
struct DatasetParts {
  Json info = Json::object();  ///< handed to Runner::init (sizes, class count, ...)
  std::shared_ptr<DataLoader> train;
  std::shared_ptr<DataLoader> validation;  ///< may be null
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual DatasetParts init(const Json& args) = 0;
  /// State saved in every checkpoint.
  virtual Json state_dict() const { return Json::object(); }
  virtual void load_state_dict(const Json& state) { (void)state; }
};

Registry<Dataset>& dataset_registry();

}  // namespace dlnest

/// Makes `Class` (a Dataset) selectable as `"dataset_name": "Class"`.
#define DLNEST_REGISTER_DATASET(Class)                                      \
  static ::dlnest::Registration<::dlnest::Dataset, Class> dlnest_dataset_##Class( \
      ::dlnest::dataset_registry(), #Class)
