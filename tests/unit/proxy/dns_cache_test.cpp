#include "daemon/net/dns_cache.h"

#include <doctest/doctest.h>

#include <string>

using namespace portcullis;
using net::DnsAnswer;
using net::DnsCache;
using net::DnsFailure;
using std::chrono::seconds;

namespace {

const DnsCache::TimePoint kT0{seconds(1000)};

DnsAnswer positive(const char* ip) {
  return DnsAnswer{{*acl::IpAddress::parse(ip)}, std::nullopt, {}};
}
DnsAnswer notFound() {
  return DnsAnswer{{}, DnsFailure::kNotFound, "name does not exist"};
}

}  // namespace

TEST_CASE("DnsCache: answers until they expire, then frees them") {
  DnsCache cache(100);
  cache.insert("a.example", positive("127.0.0.1"), kT0 + seconds(60), kT0);
  cache.insert("nx.example", notFound(), kT0 + seconds(5), kT0);
  REQUIRE(cache.find("a.example", kT0 + seconds(59)));
  CHECK(cache.find("a.example", kT0)->addresses.at(0).toString() == "127.0.0.1");
  CHECK(cache.find("nx.example", kT0 + seconds(4))->failure == DnsFailure::kNotFound);
  CHECK(cache.find("other.example", kT0) == nullptr);

  SUBCASE("an expired entry is dropped when asked for") {
    CHECK(cache.find("nx.example", kT0 + seconds(5)) == nullptr);
    CHECK(cache.size() == 1);
  }
  SUBCASE("the sweep frees expired entries without any lookup") {
    CHECK(cache.sweep(kT0 + seconds(4)) == 0);
    CHECK(cache.sweep(kT0 + seconds(5)) == 1);
    CHECK(cache.size() == 1);
    CHECK(cache.sweep(kT0 + seconds(3600)) == 1);
    CHECK(cache.size() == 0);
  }
  SUBCASE("an insert frees expired entries too") {
    cache.insert("b.example", positive("127.0.0.2"), kT0 + seconds(100), kT0 + seconds(10));
    CHECK(cache.size() == 2);  // nx.example went
    CHECK(cache.find("b.example", kT0 + seconds(10)));
  }
  SUBCASE("replacing a name keeps one entry with the new expiry") {
    cache.insert("a.example", positive("127.0.0.3"), kT0 + seconds(10), kT0);
    CHECK(cache.size() == 2);
    CHECK(cache.find("a.example", kT0)->addresses.at(0).toString() == "127.0.0.3");
    CHECK(cache.sweep(kT0 + seconds(10)) == 2);
    CHECK(cache.size() == 0);
  }
}

TEST_CASE("DnsCache: a flood of unique names stays under the cap") {
  DnsCache cache(1000);
  // A long-lived positive answer from before the flood.
  cache.insert("origin.example", positive("127.0.0.1"), kT0 + seconds(300), kT0);
  // 20,000 unique NXDOMAIN names within one negative TTL (5 s): none has
  // expired, so only the cap bounds the map.
  for (int i = 0; i < 20000; ++i) {
    cache.insert("x" + std::to_string(i) + ".example", notFound(), kT0 + seconds(5), kT0);
    REQUIRE(cache.size() <= 1000);
  }
  CHECK(cache.size() == 1000);
  // The entries closest to expiry went first: the newest negatives and the
  // long-lived positive answer are still there.
  CHECK(cache.find("x19999.example", kT0));
  CHECK(cache.find("x0.example", kT0) == nullptr);
  CHECK(cache.find("origin.example", kT0));
  // After the negative TTL the sweep returns everything but the positive.
  CHECK(cache.sweep(kT0 + seconds(5)) == 999);
  CHECK(cache.size() == 1);
  CHECK(DnsCache().maxEntries() == DnsCache::kDefaultMaxEntries);
}
