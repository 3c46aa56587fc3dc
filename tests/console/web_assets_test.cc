// SPDX-License-Identifier: BSD-2-Clause
// The console's files built into the controller (controller/web/, embedded
// by controller/web/embed.cmake): found at their paths with the right content
// types, nothing else found, and the page refers only to files that exist
// and to nothing outside the controller.
#include "web_assets.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace sw::controller {
namespace {

TEST(WebAssets, IndexIsServedAtRootAndIndexHtml) {
  const WebAsset* root = FindWebAsset("/");
  const WebAsset* index = FindWebAsset("/index.html");
  ASSERT_NE(root, nullptr);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(root->body, index->body);
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  EXPECT_NE(root->body.find("<!doctype html>"), std::string_view::npos);
}

TEST(WebAssets, ScriptAndStyleHaveTheirContentTypes) {
  const WebAsset* js = FindWebAsset("/assets/app.js");
  const WebAsset* css = FindWebAsset("/assets/app.css");
  ASSERT_NE(js, nullptr);
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  EXPECT_GT(js->body.size(), 1000u);
  EXPECT_GT(css->body.size(), 100u);
  // The files in full: the last byte is the file's (a newline), no NUL added.
  EXPECT_EQ(js->body.back(), '\n');
  EXPECT_EQ(js->body.find('\0'), std::string_view::npos);
}

TEST(WebAssets, AnythingElseIsNotFound) {
  for (const char* p : {"", "/assets/", "/assets", "/assets/app.js?v=1", "/assets/../index.html",
                        "/assets/index.html", "/app.js", "/api/v1/stats", "/favicon.ico", "/INDEX.HTML"}) {
    EXPECT_EQ(FindWebAsset(p), nullptr) << p;
  }
}

TEST(WebAssets, TheIndexRefersOnlyToAssetsThatExist) {
  const std::string html(FindWebAsset("/")->body);
  std::regex ref(R"re((?:src|href)\s*=\s*"([^"]*)")re");
  std::vector<std::string> refs;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it) {
    refs.push_back((*it)[1].str());
  }
  ASSERT_GE(refs.size(), 2u) << "index.html names no script or style";
  bool js = false, css = false;
  for (const std::string& r : refs) {
    if (r.rfind("data:", 0) == 0 || r.rfind("#", 0) == 0) continue;  // inline (the empty icon), anchors
    EXPECT_NE(FindWebAsset(r), nullptr) << "index.html refers to " << r << ", which is not built in";
    js |= r == "/assets/app.js";
    css |= r == "/assets/app.css";
  }
  EXPECT_TRUE(js);
  EXPECT_TRUE(css);
}

TEST(WebAssets, NoAssetLoadsAnythingFromElsewhere) {
  for (const char* p : {"/", "/assets/app.js", "/assets/app.css"}) {
    const std::string_view body = FindWebAsset(p)->body;
    EXPECT_EQ(body.find("http://"), std::string_view::npos) << p;
    EXPECT_EQ(body.find("https://"), std::string_view::npos) << p;
    EXPECT_EQ(body.find("//cdn"), std::string_view::npos) << p;
    EXPECT_EQ(body.find("@import"), std::string_view::npos) << p;
  }
}

}  // namespace
}  // namespace sw::controller
