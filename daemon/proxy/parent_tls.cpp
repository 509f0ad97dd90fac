#include "daemon/proxy/parent_tls.h"

namespace portcullis::proxy {

std::string ParentTlsContexts::prepare(const config::Config& config) {
  std::map<std::string, Entry, std::less<>> next;
  std::string errors;
  {
    std::lock_guard lock(mu_);
    for (const config::ParentConfig& p : config.parents.list) {
      if (!p.tls) continue;
      if (auto it = byName_.find(p.name); it != byName_.end() && it->second.caFile == p.tlsCa) {
        next.emplace(p.name, it->second);
      }
    }
  }
  // CA files are read outside the lock: get() on the workers never waits for them.
  for (const config::ParentConfig& p : config.parents.list) {
    if (!p.tls || next.contains(p.name)) continue;
    auto loaded = net::TlsClientContext::load(p.tlsCa);
    if (!loaded.ok()) {
      errors +=
          (errors.empty() ? "" : "; ") + ("[[parent]] '" + p.name + "': ") + loaded.error().message;
      continue;
    }
    next.emplace(p.name, Entry{p.tlsCa, std::move(loaded.value())});
  }
  std::lock_guard lock(mu_);
  byName_ = std::move(next);
  return errors;
}

std::shared_ptr<const net::TlsClientContext> ParentTlsContexts::get(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second.context;
}

}  // namespace portcullis::proxy
