#include "daemon/proxy/parent_admin.h"

#include "daemon/proxy/server.h"

namespace portcullis::proxy {

std::function<std::vector<admin::ParentFigures>()> parentFiguresSource(Server& server) {
  return [&server] {
    std::vector<admin::ParentFigures> out;
    const auto config = server.config();
    const auto now = std::chrono::steady_clock::now();
    // Only the parents of the config in force; a removed one keeps its
    // counters (by name) in case a later reload brings it back.
    for (const auto& row : server.parents().rows(now)) {
      for (const auto& p : config->parents.list) {
        if (p.name == row.name) out.push_back({row.name, row.up, row.requests, row.failures});
      }
    }
    return out;
  };
}

}  // namespace portcullis::proxy
