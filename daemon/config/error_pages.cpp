#include "daemon/config/error_pages.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/config/error_pages_loader.h"

namespace portcullis::config {
namespace {

// A pupil reads this page: one title, one sentence, the rule's name (never
// the config file's path), who to ask. Inline style only, no external
// resource, so it renders the same behind any firewall.
constexpr std::string_view kDefaultPage = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#1d2330}
code{background:#eef0f3;padding:0 .3em;border-radius:3px}small{color:#667085}</style>
</head><body>
<h1>{{title}}</h1>
<p>{{message}}</p>
{{#rule}}<p>Rule: <code>{{rule}}</code></p>
{{/rule}}{{#contact}}<p>{{contact}}</p>
{{/contact}}<hr><p><small>{{#organisation}}{{organisation}} &middot; {{/organisation}}{{proxy}} &middot; {{status}} {{reason}}</small></p>
</body></html>
)";

constexpr size_t kMaxTemplate = 256 * 1024;

bool readFile(const std::string& path, std::string& text, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = "read error";
    return false;
  }
  text = ss.str();
  if (text.size() > kMaxTemplate) {
    error = "larger than 256 KiB";
    return false;
  }
  return true;
}

// Compiles one template file; reports at its own line:column.
bool compileFile(TomlReader& r, const toml::node& key, const std::string& path, PageTemplate& out) {
  std::string text;
  std::string error;
  if (!readFile(path, text, error)) {
    r.error(key.source(), "'error_pages': cannot read '" + path + "': " + error);
    return false;
  }
  PageTemplate::Problem problem;
  out = PageTemplate::compile(text, errorPagePlaceholders(), problem);
  if (problem.line != 0) {
    r.add(Severity::kError, path, problem.line, problem.column, problem.message);
    return false;
  }
  if (out.empty()) r.add(Severity::kError, path, 0, 0, "the template is empty");
  return !out.empty();
}

// NNN.html for an error status 400-599, else 0.
int statusOfFileName(const std::string& name) {
  if (name.size() != 8 || name.substr(3) != ".html") return 0;
  if (name.find_first_not_of("0123456789") != 3) return 0;
  const int status = std::stoi(name.substr(0, 3));
  return status >= 400 && status <= 599 ? status : 0;
}

}  // namespace

const std::vector<std::string_view>& errorPagePlaceholders() {
  static const std::vector<std::string_view> kNames = {
      "status", "reason", "title", "message", "rule", "contact", "organisation", "proxy"};
  return kNames;
}

const PageTemplate& ErrorPages::forStatus(int status) const {
  const auto it = byStatus.find(status);
  return it == byStatus.end() ? page : it->second;
}

const PageTemplate& defaultErrorPage() {
  static const PageTemplate kPage = [] {
    PageTemplate::Problem problem;
    return PageTemplate::compile(kDefaultPage, errorPagePlaceholders(), problem);
  }();
  return kPage;
}

void readErrorPages(TomlReader& r, const toml::table& server, const std::string& baseDir,
                    ServerConfig& s) {
  r.getString(server, "error_contact", s.errorContact);
  r.getString(server, "organisation", s.organisation);
  std::string dir;
  if (!r.getString(server, "error_pages", dir) || dir.empty()) return;
  const toml::node& key = *server.get("error_pages");
  dir = configPath(baseDir, dir);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    r.error(key.source(), "'error_pages': '" + dir + "' is not a directory" +
                              (ec ? ": " + ec.message() : std::string()));
    return;
  }
  auto pages = std::make_shared<ErrorPages>();
  pages->dir = dir;
  bool ok = compileFile(r, key, dir + "/error.html", pages->page);
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const int status = statusOfFileName(entry.path().filename().string());
    if (status == 0) continue;
    ok = compileFile(r, key, entry.path().string(), pages->byStatus[status]) && ok;
  }
  if (ec) {
    r.error(key.source(), "'error_pages': cannot list '" + dir + "': " + ec.message());
    ok = false;
  }
  if (ok) s.errorPages = std::move(pages);
}

}  // namespace portcullis::config
