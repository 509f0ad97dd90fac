#pragma once
// What a reload (SIGHUP) changes. Every key applies to the next request
// after a reload unless it is listed here: these are read once at start-up
// (sockets, threads, privileges, the cache store, the log files, the admin
// listener) and keep their start-up value until a restart. A reload never
// applies one of them half-way; it reports the ones that differ from the
// running daemon's (`restart_required`). The README's reload section and the
// generated reference list exactly these keys (tests check both).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::config {

struct Config;

/// True when `path` ("cache.dir") keeps its start-up value on reload.
bool isRestartOnly(std::string_view path);

/// Every restart-only key, in schema order.
std::vector<std::string_view> restartOnlyKeys();

/// One restart-only key and its value in some config, as one line of text
/// (lists joined with ", "); two configs differ in a key exactly when
/// these texts differ.
using KeyValue = std::pair<std::string, std::string>;

/// Every restart-only key of `config` with its value, in schema order.
std::vector<KeyValue> restartOnlyValues(const Config& config);

/// The restart-only keys whose value differs between `running` (what the
/// daemon started with) and `reloaded`, in the order of `running`.
std::vector<std::string> restartOnlyChanges(const std::vector<KeyValue>& running,
                                            const std::vector<KeyValue>& reloaded);

/// The same for two configs.
std::vector<std::string> restartOnlyChanges(const Config& running, const Config& reloaded);

/// `reloaded` with every restart-only key set back to its value in
/// `running`: the snapshot a reload puts in force, so that nothing that
/// reads a restart-only key from a snapshot ever sees a value the daemon
/// does not run with.
Config keepRestartOnly(const Config& reloaded, const Config& running);

}  // namespace portcullis::config
