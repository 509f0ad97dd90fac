#include "daemon/http/framing.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace portcullis::http;

namespace {

RequestHead request(std::vector<HeaderField> fields, int minor = 1) {
  RequestHead h;
  h.method = "POST";
  h.methodKind = Method::kPost;
  h.target = "/";
  h.versionMinor = minor;
  for (auto& f : fields) h.headers.add(f.name, f.value);
  return h;
}

ResponseHead response(int status, std::vector<HeaderField> fields, int minor = 1) {
  ResponseHead h;
  h.status = status;
  h.versionMinor = minor;
  for (auto& f : fields) h.headers.add(f.name, f.value);
  return h;
}

}  // namespace

TEST_CASE("requestFraming") {
  SUBCASE("no body without CL or TE") {
    const auto f = requestFraming(request({}));
    REQUIRE(f.ok());
    CHECK(f->kind == BodyKind::kNone);
  }
  SUBCASE("largest Content-Length") {
    const auto f = requestFraming(request({{"content-length", "9223372036854775807"}}));
    REQUIRE(f.ok());
    CHECK(f->length == 9223372036854775807ULL);
  }
  SUBCASE("statuses of the errors") {
    CHECK(requestFraming(request({{"Transfer-Encoding", "gzip, chunked"}})).error().status == 501);
    CHECK(requestFraming(request({{"Transfer-Encoding", "chunked"}}, 0)).error().status == 400);
    CHECK(requestFraming(request({{"Content-Length", "1"}, {"Transfer-Encoding", "chunked"}}))
              .error()
              .status == 400);
    CHECK(requestFraming(request({{"Content-Length", " 1"}})).error().status == 400);
  }
}

TEST_CASE("responseFraming") {
  struct Row {
    const char* name;
    int status;
    Method method;
    std::vector<HeaderField> fields;
    int minor;
    bool ok;
    BodyKind kind;
  };
  const std::vector<Row> rows = {
      {"200 CL", 200, Method::kGet, {{"Content-Length", "7"}}, 1, true, BodyKind::kContentLength},
      {"200 chunked",
       200,
       Method::kGet,
       {{"Transfer-Encoding", "chunked"}},
       1,
       true,
       BodyKind::kChunked},
      {"200 until close", 200, Method::kGet, {}, 1, true, BodyKind::kUntilClose},
      {"HEAD ignores TE+CL",
       200,
       Method::kHead,
       {{"Content-Length", "7"}, {"Transfer-Encoding", "chunked"}},
       1,
       true,
       BodyKind::kNone},
      {"101", 101, Method::kGet, {}, 1, true, BodyKind::kNone},
      {"204", 204, Method::kGet, {{"Content-Length", "3"}}, 1, true, BodyKind::kNone},
      {"304", 304, Method::kGet, {{"Transfer-Encoding", "chunked"}}, 1, true, BodyKind::kNone},
      {"CONNECT 200", 200, Method::kConnect, {{"Content-Length", "3"}}, 1, true, BodyKind::kNone},
      {"CONNECT 403",
       403,
       Method::kConnect,
       {{"Content-Length", "3"}},
       1,
       true,
       BodyKind::kContentLength},
      {"TE + CL",
       200,
       Method::kGet,
       {{"Content-Length", "7"}, {"Transfer-Encoding", "chunked"}},
       1,
       false,
       BodyKind::kNone},
      {"TE chunked, gzip",
       200,
       Method::kGet,
       {{"Transfer-Encoding", "chunked, gzip"}},
       1,
       false,
       BodyKind::kNone},
      {"TE 1.0", 200, Method::kGet, {{"Transfer-Encoding", "chunked"}}, 0, false, BodyKind::kNone},
      {"CL junk", 200, Method::kGet, {{"Content-Length", "7a"}}, 1, false, BodyKind::kNone},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name) {
      const auto f = responseFraming(response(r.status, r.fields, r.minor), r.method);
      REQUIRE(f.ok() == r.ok);
      if (r.ok) {
        CHECK(f->kind == r.kind);
      } else {
        CHECK(f.error().status == 502);
      }
    }
  }
}

TEST_CASE("checkHostField") {
  struct Row {
    const char* name;
    std::vector<HeaderField> fields;
    int minor;
    bool ok;
  };
  const std::vector<Row> rows = {
      {"one Host", {{"Host", "a.example"}}, 1, true},
      {"Host with port", {{"host", "a.example:8080"}}, 1, true},
      {"IPv6 Host", {{"Host", "[::1]:8080"}}, 1, true},
      {"empty Host", {{"Host", ""}}, 1, true},
      {"no Host in 1.0", {}, 0, true},
      {"no Host in 1.1", {}, 1, false},
      {"two Host lines", {{"Host", "a"}, {"Host", "a"}}, 1, false},
      {"two Host lines in 1.0", {{"Host", "a"}, {"host", "b"}}, 0, false},
      {"Host list", {{"Host", "a, b"}}, 1, false},
      {"Host with userinfo", {{"Host", "u@a"}}, 1, false},
      {"Host with bad port", {{"Host", "a:0"}}, 1, false},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name) {
      const auto res = checkHostField(request(r.fields, r.minor));
      CHECK(res.ok() == r.ok);
      if (!r.ok) CHECK(res.error().status == 400);
    }
  }
}
