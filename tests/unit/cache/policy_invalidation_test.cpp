#include <doctest/doctest.h>

#include "cache/policy/invalidation.h"
#include "tests/unit/cache/policy_test_util.h"

using namespace portcullis;
using namespace portcullis::cache;
using namespace portcullis::cache::testing;

TEST_CASE("invalidation by unsafe methods (RFC 9111 §4.4)") {
  auto target = http::parseAbsoluteForm("http://Example.COM:80/a/b?x=1");
  REQUIRE(target.ok());
  const std::string self = target->normalizedUri();
  auto request = [](http::Method m) {
    auto r = get();
    r.methodKind = m;
    return r;
  };
  struct Case {
    const char* name;
    http::Method method;
    http::ResponseHead response;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {"GET never", http::Method::kGet, response(200), {}},
      {"HEAD never", http::Method::kHead, response(200), {}},
      {"POST 200", http::Method::kPost, response(200), {self}},
      {"PUT 201", http::Method::kPut, response(201), {self}},
      {"DELETE 204", http::Method::kDelete, response(204), {self}},
      {"unknown method", http::Method::kOther, response(200), {self}},
      {"POST 500 leaves it", http::Method::kPost, response(500), {}},
      {"POST 404 leaves it", http::Method::kPost, response(404), {}},
      {"Location same origin absolute", http::Method::kPost,
       response(303, headers({{"Location", "http://example.com/c"}})), {self, "http://example.com/c"}},
      {"Location absolute path", http::Method::kPost, response(201, headers({{"Location", "/d"}})),
       {self, "http://example.com/d"}},
      {"Location relative path", http::Method::kPost, response(201, headers({{"Location", "e"}})),
       {self, "http://example.com/a/e"}},
      {"Content-Location other origin ignored", http::Method::kPut,
       response(200, headers({{"Content-Location", "http://other.example/a/b?x=1"}})), {self}},
      {"Location other port ignored", http::Method::kPost,
       response(201, headers({{"Location", "http://example.com:8080/d"}})), {self}},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) { CHECK(policy::invalidationKeys(request(tc.method), *target, tc.response) == tc.expected); }
  }
  CHECK(policy::primaryKey(*target) == self);
}
