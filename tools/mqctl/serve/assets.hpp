// The web page's files, embedded in the binary at build time (embed_assets.cmake
// generates the definition from tools/mqctl/web/), so the console needs no files at
// run time and serves nothing from the filesystem.
#pragma once

#include <string_view>

namespace mqctl {

struct Asset {
  std::string_view path;          // "/app.js"; index.html is served as "/"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// Null when no embedded file has this exact path.
const Asset* find_asset(std::string_view path);

}  // namespace mqctl
