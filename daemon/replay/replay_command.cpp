#include "daemon/replay/replay_command.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include "daemon/config/config_loader.h"
#include "daemon/replay/flat_json.h"
#include "daemon/replay/replay.h"

namespace portcullis::replay {

namespace {

/// Loads `path` as `run` would; nullptr (diagnostics printed) on errors.
std::shared_ptr<const config::Config> load(const std::string& path, std::ostream& err) {
  config::LoadResult r = config::loadConfigFile(path);
  if (!r.config) {
    for (const config::Diagnostic& d : r.diagnostics) {
      if (d.severity == config::Severity::kError) err << d.format() << "\n";
    }
    return nullptr;
  }
  return r.config;
}

ReplaySide sideOf(const std::shared_ptr<const config::Config>& c) {
  const auto* groups = c->auth.groups.get();
  return {c->policy.get(), [groups](const std::string& user) -> std::span<const std::string> {
            if (user.empty() || groups == nullptr) return {};
            return groups->groupsOf(user);
          }};
}

void replayStream(std::istream& in, Replay& replay) {
  FlatJson json;
  LoggedRequest record;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (!json.parse(line)) {
      replay.malformed(number, "not a JSON object: " + json.error());
      continue;
    }
    record.line = number;
    if (std::string why = readLoggedRequest(json, record); !why.empty()) {
      replay.malformed(number, std::move(why));
      continue;
    }
    replay.add(record);
  }
}

}  // namespace

int runReplay(const ReplayCommand& cmd, std::ostream& out, std::ostream& err) {
  const auto started = std::chrono::steady_clock::now();
  auto candidate = load(cmd.candidatePath, err);
  if (!candidate) return 2;
  std::shared_ptr<const config::Config> current;
  if (!cmd.currentPath.empty() && !(current = load(cmd.currentPath, err))) return 2;
  std::ifstream file;
  if (cmd.logPath != "-") {
    file.open(cmd.logPath);
    if (!file) {
      err << "cannot read the access log '" << cmd.logPath << "'\n";
      return 2;
    }
  }
  Replay replay(sideOf(candidate), current ? sideOf(current) : ReplaySide{}, cmd.examples);
  replayStream(cmd.logPath == "-" ? std::cin : file, replay);
  if (file.bad()) {
    err << "error reading the access log '" << cmd.logPath << "'\n";
    return 2;
  }
  const std::string baseline =
      current ? "the rules of " + cmd.currentPath : std::string("the decisions the log recorded");
  out << "candidate: " << cmd.candidatePath << "\n";
  printReport(out, replay.report(), baseline);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  out << "(" << replay.report().records + replay.report().malformed << " record(s) in "
      << static_cast<int>(took.count() * 10) / 10.0 << " s; no name was resolved)\n";
  return replay.report().changed() > 0 ? 1 : 0;
}

}  // namespace portcullis::replay
