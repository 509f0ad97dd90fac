#include "daemon/proxy/parent_health.h"

namespace portcullis::proxy {

ParentState& ParentHealth::state(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = states_[name];
  if (!slot) slot = std::make_unique<ParentState>();
  return *slot;
}

std::vector<ParentHealth::Row> ParentHealth::rows(std::chrono::steady_clock::time_point now) const {
  std::lock_guard lock(mu_);
  std::vector<Row> out;
  for (const auto& [name, s] : states_) {
    out.push_back(Row{name, s->up(now), s->requests.load(), s->failures.load()});
  }
  return out;
}

}  // namespace portcullis::proxy
