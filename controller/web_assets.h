// SPDX-License-Identifier: BSD-2-Clause
// The operator's console (controller/web/): its files, built into the
// controller at build time by controller/web/embed.cmake (library
// sw_web_assets), for the HTTP server to serve.
#pragma once

#include <string_view>

namespace sw::controller {

struct WebAsset {
  // The Content-Type header to send, e.g. "text/html; charset=utf-8".
  std::string_view content_type;
  std::string_view body;
};

// The console's files built in: "/" and "/index.html" -> index.html,
// "/assets/app.js", "/assets/app.css", ... (each file of controller/web/ at
// "/assets/NAME"); nullptr for anything else. The query string must have
// been removed from path.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace sw::controller
