#include "daemon/net/resolver.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace portcullis::net {

namespace {
std::string lowerCase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

DnsFailure classify(int dnsError) {
  switch (dnsError) {
    case DNS_ERR_NOTEXIST:
    case DNS_ERR_NODATA:
      return DnsFailure::kNotFound;
    case DNS_ERR_TIMEOUT:
      return DnsFailure::kTimeout;
    default:
      return DnsFailure::kServerFailure;
  }
}
}  // namespace

Resolver::Resolver(event_base* base, const config::DnsConfig& config, size_t maxCacheEntries)
    : base_(base), config_(config), cache_(maxCacheEntries) {
  const bool useSystem = config.nameservers.empty();
  dns_.reset(evdns_base_new(base, useSystem ? EVDNS_BASE_INITIALIZE_NAMESERVERS : 0));
  if (dns_ && !useSystem) {
    for (const auto& ns : config.nameservers) evdns_base_nameserver_ip_add(dns_.get(), ns.c_str());
  }
  if (dns_) {
    auto seconds = std::to_string(std::max<int64_t>(1, config.timeout.count() / 1000));
    evdns_base_set_option(dns_.get(), "timeout:", seconds.c_str());
    evdns_base_set_option(dns_.get(), "attempts:", "2");
  }
  if (config.useHostsFile) hosts_ = loadHostsFile("/etc/hosts");
}

void Resolver::reconfigure(const config::DnsConfig& config) {
  const bool changed =
      config.nameservers != config_.nameservers || config.timeout != config_.timeout ||
      config.minTtl != config_.minTtl || config.maxTtl != config_.maxTtl ||
      config.negativeTtl != config_.negativeTtl || config.useHostsFile != config_.useHostsFile;
  if (dns_ && config.nameservers != config_.nameservers) useNameservers(config);
  if (dns_ && config.timeout != config_.timeout) {
    // Read for each transmission: queries sent from now on wait this long.
    auto seconds = std::to_string(std::max<int64_t>(1, config.timeout.count() / 1000));
    evdns_base_set_option(dns_.get(), "timeout:", seconds.c_str());
  }
  // Re-read on every reload, so an edited /etc/hosts applies like the config.
  hosts_ = config.useHostsFile ? loadHostsFile("/etc/hosts") : HostsTable{};
  if (changed) cache_ = DnsCache(cache_.maxEntries());
  config_ = config;
}

void Resolver::useNameservers(const config::DnsConfig& config) {
  // Suspending moves the lookups in flight back to evdns' waiting queue;
  // resume() sends them again, to the new servers.
  evdns_base_clear_nameservers_and_suspend(dns_.get());
  if (config.nameservers.empty()) {
    // Only the nameserver lines: search and options stay as they were.
    evdns_base_resolv_conf_parse(dns_.get(), DNS_OPTION_NAMESERVERS, "/etc/resolv.conf");
  } else {
    for (const auto& ns : config.nameservers) evdns_base_nameserver_ip_add(dns_.get(), ns.c_str());
  }
  evdns_base_resume(dns_.get());
}

Resolver::~Resolver() {
  // Pending queries are failed by evdns_base_free; their callbacks must not
  // touch this object any more.
  for (auto& [host, pending] : pending_) {
    pending->owner = nullptr;
    pending->waiters.clear();
  }
  pending_.clear();
  dns_.reset();
}

std::optional<DnsAnswer> Resolver::resolve(const std::string& hostIn, Callback cb,
                                           uint64_t& ticket) {
  ticket = 0;
  if (auto literal = acl::IpAddress::parse(hostIn)) return DnsAnswer{{*literal}, std::nullopt, {}};
  std::string host = lowerCase(hostIn);
  if (auto it = hosts_.find(host); it != hosts_.end()) return DnsAnswer{it->second, std::nullopt, {}};

  if (const DnsAnswer* cached = cache_.find(host, std::chrono::steady_clock::now())) return *cached;
  if (!dns_) return DnsAnswer{{}, DnsFailure::kServerFailure, "resolver not initialised"};

  ticket = nextTicket_++;
  if (auto it = pending_.find(host); it != pending_.end()) {
    it->second->waiters.push_back({ticket, std::move(cb)});
    return std::nullopt;
  }
  auto* pending = new Pending;
  pending->host = host;
  pending->owner = this;
  pending->waiters.push_back({ticket, std::move(cb)});
  pending_.emplace(host, pending);
  // Both families at once; the answer is the union (RFC 6724 ordering is
  // left to the connect attempt order: IPv4 first, then IPv6).
  if (evdns_base_resolve_ipv4(dns_.get(), host.c_str(), 0, &Resolver::onDnsAnswer, pending) ==
      nullptr) {
    pending->outstanding--;
  }
  if (evdns_base_resolve_ipv6(dns_.get(), host.c_str(), 0, &Resolver::onDnsAnswer, pending) ==
      nullptr) {
    pending->outstanding--;
  }
  if (pending->outstanding == 0) {
    pending_.erase(host);
    delete pending;
    ticket = 0;
    ++failures_;
    return DnsAnswer{{}, DnsFailure::kServerFailure, "could not start DNS query"};
  }
  return std::nullopt;
}

void Resolver::cancel(uint64_t ticket) {
  if (ticket == 0) return;
  for (auto& [host, pending] : pending_) {
    auto& w = pending->waiters;
    w.erase(std::remove_if(w.begin(), w.end(), [&](const Waiter& x) { return x.ticket == ticket; }),
            w.end());
  }
}

void Resolver::onDnsAnswer(int result, char type, int count, int ttl, void* addresses,
                           void* arg) noexcept {
  auto* pending = static_cast<Pending*>(arg);
  try {
    if (result == DNS_ERR_NONE) {
      for (int i = 0; i < count; ++i) {
        if (type == DNS_IPv4_A) {
          uint32_t netOrder = static_cast<const uint32_t*>(addresses)[i];
          pending->addresses.push_back(acl::IpAddress::fromV4(ntohl(netOrder)));
        } else if (type == DNS_IPv6_AAAA) {
          std::array<uint8_t, 16> bytes;
          std::memcpy(bytes.data(), static_cast<const uint8_t*>(addresses) + 16 * i, 16);
          pending->addresses.push_back(acl::IpAddress::fromBytes(bytes));
        }
      }
      if (count > 0) pending->minTtl = std::min(pending->minTtl, ttl);
    } else if (pending->lastError == 0 || result != DNS_ERR_NODATA) {
      pending->lastError = result;
    }
  } catch (...) {
    pending->lastError = DNS_ERR_UNKNOWN;
  }
  if (--pending->outstanding > 0) return;
  if (pending->owner == nullptr) {
    delete pending;
    return;
  }
  pending->owner->finish(pending);
}

void Resolver::finish(Pending* pending) {
  pending_.erase(pending->host);
  DnsAnswer answer;
  answer.addresses = std::move(pending->addresses);
  std::chrono::milliseconds ttl;
  if (answer.addresses.empty()) {
    int err = pending->lastError == 0 ? DNS_ERR_NODATA : pending->lastError;
    answer.failure = classify(err);
    answer.detail = evdns_err_to_string(err);
    ++failures_;
    ttl = config_.negativeTtl;
  } else {
    ttl = std::clamp<std::chrono::milliseconds>(std::chrono::seconds(pending->minTtl),
                                                config_.minTtl, config_.maxTtl);
  }
  // Timeouts and server failures are not cached: the next request retries.
  if (!answer.failure || *answer.failure == DnsFailure::kNotFound) {
    const auto now = std::chrono::steady_clock::now();
    cache_.insert(pending->host, answer, now + ttl, now);
  }
  auto waiters = std::move(pending->waiters);
  delete pending;
  for (auto& w : waiters) w.cb(answer);
}

}  // namespace portcullis::net
