#pragma once
// What a reload (SIGHUP) changes. Every key applies to the next request
// after a reload unless it is listed here: these are read once at start-up
// (sockets, threads, the cache store, the resolvers, the log files) and keep
// their start-up value until a restart. A reload never applies one of them
// half-way; it reports the ones that changed (`restart_required`).

#include <string>
#include <string_view>
#include <vector>

namespace portcullis::config {

struct Config;

/// True when `path` ("cache.dir") keeps its start-up value on reload.
bool isRestartOnly(std::string_view path);

/// Every restart-only key, in schema order.
std::vector<std::string_view> restartOnlyKeys();

/// The restart-only keys whose value differs between the running config and
/// a reloaded one, in schema order.
std::vector<std::string> restartOnlyChanges(const Config& running, const Config& reloaded);

}  // namespace portcullis::config
