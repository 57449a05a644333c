// The web console's files, embedded in sagad at build time from web/ (web/CMakeLists.txt).
#ifndef SAGA_WEB_WEB_ASSETS_H_
#define SAGA_WEB_WEB_ASSETS_H_

#include <string_view>
#include <vector>

namespace saga::web {

struct Asset {
  std::string_view name;          // "index.html": a file of web/
  std::string_view content_type;  // its Content-Type
  std::string_view content;
};

const std::vector<Asset>& EmbeddedAssets();

// The asset of that file name, or null.
const Asset* FindAsset(std::string_view name);

}  // namespace saga::web

#endif  // SAGA_WEB_WEB_ASSETS_H_
