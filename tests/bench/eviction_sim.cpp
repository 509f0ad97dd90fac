// Eviction simulator: replays fixed-seed Zipf traces with mixed object
// sizes through the cache's own EvictionPolicy classes (LRU and S3-FIFO)
// and prints byte-hit and object-hit ratios with the cache sized at a
// fraction (default 10%) of the working set.
//
//   eviction_sim [--objects N] [--requests N] [--alpha A] [--cache-fraction F] [--seed S]
//
// Deterministic: the generator is our own (splitmix64), so the figures are
// the same on every machine.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "cache/store/eviction_policy.h"

namespace {

using portcullis::cache::EvictionKind;

struct Rng {
  uint64_t state;
  uint64_t next() {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
};

// Web-like size mix: mostly small objects, a tail of large ones.
uint64_t objectSize(Rng& rng) {
  const double p = rng.uniform();
  const double u = rng.uniform();
  if (p < 0.70) return 1024 + static_cast<uint64_t>(u * 19 * 1024);               // 1-20 KiB
  if (p < 0.95) return 20 * 1024 + static_cast<uint64_t>(u * 480 * 1024);         // 20-500 KiB
  return 512 * 1024 + static_cast<uint64_t>(u * 9.5 * 1024 * 1024);               // 0.5-10 MiB
}

struct Request {
  uint64_t id;
  uint64_t size;
};

struct Params {
  uint64_t objects = 100000;
  uint64_t requests = 2000000;
  double alpha = 0.8;
  double cacheFraction = 0.10;
  uint64_t seed = 42;
};

// Zipf(alpha) over `objects` ranks; with `oneHitShare` of the requests going
// to objects requested exactly once (the "one-hit wonders" of CDN traces).
std::vector<Request> makeTrace(const Params& p, double oneHitShare) {
  Rng rng{p.seed};
  std::vector<uint64_t> sizes(p.objects);
  for (auto& s : sizes) s = objectSize(rng);
  std::vector<double> cdf(p.objects);
  double sum = 0;
  for (uint64_t i = 0; i < p.objects; ++i) {
    sum += 1.0 / std::pow(static_cast<double>(i + 1), p.alpha);
    cdf[i] = sum;
  }
  std::vector<Request> trace;
  trace.reserve(p.requests);
  uint64_t nextUnique = p.objects;
  for (uint64_t r = 0; r < p.requests; ++r) {
    if (rng.uniform() < oneHitShare) {
      trace.push_back({nextUnique++, objectSize(rng)});
      continue;
    }
    const double x = rng.uniform() * sum;
    const auto rank = static_cast<uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), x) - cdf.begin());
    const uint64_t id = std::min(rank, p.objects - 1);
    trace.push_back({id, sizes[id]});
  }
  return trace;
}

struct Outcome {
  double byteHitRatio;
  double objectHitRatio;
};

Outcome simulate(const std::vector<Request>& trace, EvictionKind kind, uint64_t capacity) {
  auto policy = portcullis::cache::makeEvictionPolicy(kind, capacity);
  std::unordered_set<uint64_t> cached;
  uint64_t hitBytes = 0, totalBytes = 0, hits = 0;
  for (const auto& r : trace) {
    totalBytes += r.size;
    if (cached.count(r.id) != 0) {
      ++hits;
      hitBytes += r.size;
      policy->onAccess(r.id);
      continue;
    }
    if (r.size > capacity) continue;  // as max_object_size would refuse it
    policy->onInsert(r.id, r.size);
    cached.insert(r.id);
    while (policy->trackedBytes() > capacity) {
      auto victim = policy->evict();
      if (!victim) break;
      cached.erase(*victim);
    }
  }
  return {static_cast<double>(hitBytes) / static_cast<double>(totalBytes),
          static_cast<double>(hits) / static_cast<double>(trace.size())};
}

uint64_t workingSetBytes(const std::vector<Request>& trace) {
  std::unordered_set<uint64_t> seen;
  uint64_t bytes = 0;
  for (const auto& r : trace) {
    if (seen.insert(r.id).second) bytes += r.size;
  }
  return bytes;
}

bool parseArgs(int argc, char** argv, Params& p) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--objects") p.objects = std::strtoull(v, nullptr, 10);
    else if (flag == "--requests") p.requests = std::strtoull(v, nullptr, 10);
    else if (flag == "--alpha") p.alpha = std::strtod(v, nullptr);
    else if (flag == "--cache-fraction") p.cacheFraction = std::strtod(v, nullptr);
    else if (flag == "--seed") p.seed = std::strtoull(v, nullptr, 10);
    else return false;
  }
  return (argc % 2) == 1 && p.objects > 0 && p.requests > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Params p;
  if (!parseArgs(argc, argv, p)) {
    std::fprintf(stderr, "usage: eviction_sim [--objects N] [--requests N] [--alpha A] "
                         "[--cache-fraction F] [--seed S]\n");
    return 2;
  }
  std::printf("objects=%llu requests=%llu alpha=%.2f cache=%.0f%% of working set seed=%llu\n",
              static_cast<unsigned long long>(p.objects), static_cast<unsigned long long>(p.requests),
              p.alpha, p.cacheFraction * 100, static_cast<unsigned long long>(p.seed));
  std::printf("%-28s %-8s %14s %16s\n", "trace", "policy", "byte-hit ratio", "object-hit ratio");
  for (double oneHit : {0.0, 0.25}) {
    const auto trace = makeTrace(p, oneHit);
    const auto capacity = static_cast<uint64_t>(static_cast<double>(workingSetBytes(trace)) * p.cacheFraction);
    char name[64];
    std::snprintf(name, sizeof name, "zipf, %2.0f%% one-hit wonders", oneHit * 100);
    for (auto kind : {EvictionKind::kLru, EvictionKind::kS3Fifo}) {
      const Outcome o = simulate(trace, kind, capacity);
      std::printf("%-28s %-8s %13.2f%% %15.2f%%\n", name,
                  std::string(portcullis::cache::evictionKindName(kind)).c_str(), o.byteHitRatio * 100,
                  o.objectHitRatio * 100);
    }
  }
  return 0;
}
