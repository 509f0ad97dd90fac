// Error page templates: placeholders are HTML-escaped, sections hide empty
// values, and every mistake in a template is a load-time diagnostic at the
// template's own line:column ([server] error_pages).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/config/config_loader.h"
#include "daemon/config/error_pages.h"
#include "daemon/config/page_template.h"
#include "tests/unit/config/loader_test_util.h"

using namespace portcullis::config;
using namespace portcullis::config::testing;

namespace {
const std::vector<std::string_view> kNames = {"a", "b"};

const char* kRules =
    "[destinations]\nweb = { hosts = [\"*\"] }\n"
    "[sources]\nlan = [\"10.0.0.0/8\"]\n[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n";
}  // namespace

TEST_CASE("templates fill placeholders, escaped, and hide empty sections") {
  struct Case {
    const char* text;
    std::vector<std::string> values;
    const char* expected;
  };
  const Case cases[] = {
      {"<p>{{a}}</p>", {"x"}, "<p>x</p>"},
      {"<p>{{ a }}|{{b}}</p>", {"<b>&\"'"}, "<p>&lt;b&gt;&amp;&quot;&#39;|</p>"},
      {"{{#a}}<i>{{a}}</i>{{/a}}-", {""}, "-"},
      {"{{#a}}<i>{{a}}</i>{{/a}}-", {"r"}, "<i>r</i>-"},
      {"{{#a}}A{{#b}}B{{/b}}{{/a}}.", {"1", ""}, "A."},
      {"{{#a}}A{{#b}}B{{/b}}{{/a}}.", {"1", "2"}, "AB."},
      {"{{#a}}A{{#b}}B{{/b}}{{/a}}.", {"", "2"}, "."},
      {"no placeholders <b>kept</b> {", {}, "no placeholders <b>kept</b> {"},
      {"{{a}}{{a}}", {"\x01z"}, "?z?z"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    PageTemplate::Problem p;
    auto t = PageTemplate::compile(c.text, kNames, p);
    REQUIRE(p.line == 0);
    CHECK(t.render(c.values) == c.expected);
  }
}

TEST_CASE("template mistakes are reported at their line and column") {
  struct Case {
    const char* text;
    int line;
    int column;
    const char* message;
  };
  const Case cases[] = {
      {"<p>\n  {{nope}}</p>", 2, 3, "unknown placeholder {{nope}}; known: {{a}}, {{b}}"},
      {"x {{a", 1, 3, "'{{' without a closing '}}'"},
      {"{{#a}}\n{{/b}}", 2, 1, "{{/b}} closes no open {{#b}}"},
      {"{{#a}}open", 1, 11, "{{#a}} is never closed"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    PageTemplate::Problem p;
    auto t = PageTemplate::compile(c.text, kNames, p);
    CHECK(t.empty());
    CHECK(p.line == c.line);
    CHECK(p.column == c.column);
    CHECK(p.message == c.message);
  }
}

TEST_CASE("the built-in page compiles and uses every field") {
  const PageTemplate& page = defaultErrorPage();
  REQUIRE_FALSE(page.empty());
  std::vector<std::string> v(kErrorFields);
  v[static_cast<size_t>(ErrorField::kTitle)] = "Access denied";
  v[static_cast<size_t>(ErrorField::kRule)] = "no-<games>";
  v[static_cast<size_t>(ErrorField::kContact)] = "Ask Ms <Smith>";
  v[static_cast<size_t>(ErrorField::kOrganisation)] = "St Mary's";
  const std::string out = page.render(v);
  CHECK(out.find("<code>no-&lt;games&gt;</code>") != std::string::npos);
  CHECK(out.find("Ask Ms &lt;Smith&gt;") != std::string::npos);
  CHECK(out.find("St Mary&#39;s") != std::string::npos);
  // Said once: the title is the heading, not repeated in the text.
  CHECK(out.find("<h1>Access denied</h1>") != std::string::npos);
  v[static_cast<size_t>(ErrorField::kRule)].clear();
  v[static_cast<size_t>(ErrorField::kContact)].clear();
  const std::string bare = page.render(v);
  CHECK(bare.find("<code>") == std::string::npos);
  CHECK(bare.find("Rule") == std::string::npos);
}

TEST_CASE("[server] error_pages loads templates or reports them at load") {
  auto dir = std::filesystem::temp_directory_path() / "pc_config_test_error_pages";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "good");
  std::filesystem::create_directories(dir / "bad");
  std::filesystem::create_directories(dir / "empty");
  std::ofstream(dir / "good" / "error.html") << "<h1>{{title}}</h1>{{organisation}}";
  std::ofstream(dir / "good" / "403.html") << "<h1>blocked: {{rule}}</h1>";
  std::ofstream(dir / "good" / "notes.txt") << "{{ignored}}";
  std::ofstream(dir / "bad" / "error.html") << "ok\n";
  std::ofstream(dir / "bad" / "502.html") << "<p>\n{{school}}</p>";
  auto load = [&](const std::string& value) {
    return loadConfigText("[server]\nerror_pages = \"" + value +
                              "\"\norganisation = \"St Mary\"\nerror_contact = \"room 12\"\n" +
                              kRules,
                          "t.toml", dir.string());
  };
  SUBCASE("good: error.html and 403.html, relative to the config file") {
    LoadResult r = load("good");
    CAPTURE(all(r));
    REQUIRE(r.config != nullptr);
    REQUIRE(r.config->server.errorPages != nullptr);
    CHECK(r.config->server.organisation == "St Mary");
    CHECK(r.config->server.errorContact == "room 12");
    std::vector<std::string> v(kErrorFields);
    v[static_cast<size_t>(ErrorField::kTitle)] = "T";
    v[static_cast<size_t>(ErrorField::kRule)] = "R";
    CHECK(r.config->server.errorPages->forStatus(502).render(v) == "<h1>T</h1>");
    CHECK(r.config->server.errorPages->forStatus(403).render(v) == "<h1>blocked: R</h1>");
  }
  SUBCASE("a bad placeholder points into the template") {
    LoadResult r = load("bad");
    CHECK(r.config == nullptr);
    CHECK(all(r).find((dir / "bad" / "502.html").string() +
                      ":2:1: error: unknown placeholder {{school}}") != std::string::npos);
  }
  SUBCASE("no error.html is an error at the key") {
    LoadResult r = load("empty");
    CHECK(r.config == nullptr);
    CHECK(all(r).find("t.toml:2:15: error: 'error_pages': cannot read '" +
                      (dir / "empty" / "error.html").string() + "'") != std::string::npos);
  }
  SUBCASE("a missing directory is an error at the key") {
    LoadResult r = load("missing");
    CHECK(r.config == nullptr);
    CHECK(all(r).find("t.toml:2:15: error: 'error_pages': '" + (dir / "missing").string() +
                      "' is not a directory") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
