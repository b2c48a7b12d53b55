// A fresh folder for one test, removed with everything in it when the test ends.
#pragma once

#include <string>

namespace dlnest::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// `path()/rel`.
  std::string file(const std::string& rel) const;
  /// Writes `contents` to `path()/rel`, creating folders; returns the absolute path.
  std::string write(const std::string& rel, const std::string& contents) const;

 private:
  std::string path_;
};

}  // namespace dlnest::testing
