// The dashboard's files, compiled into the binary from src/dashboard/assets/ (embed_assets.cmake),
// so that an installed server needs no files beside it and the page loads nothing from elsewhere.
#pragma once

#include <cstddef>
#include <string_view>

namespace dlnest {

struct DashboardAsset {
  std::string_view path;          ///< "/dashboard.js"; index.html is served at "/"
  std::string_view content_type;  ///< "text/javascript; charset=UTF-8"
  std::string_view body;
};

/// The asset served at `path`, or null.
const DashboardAsset* find_dashboard_asset(std::string_view path);

}  // namespace dlnest
