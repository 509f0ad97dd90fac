#pragma once
// `portcullis explain --replay ACCESS_LOG -c CANDIDATE [--current FILE]`:
// reads the log and the configs, runs the pure Replay over every line and
// prints its report. main.cpp wires it to the CLI.

#include <cstddef>
#include <ostream>
#include <string>

namespace portcullis::replay {

struct ReplayCommand {
  std::string logPath;        ///< JSON-lines access log; "-" = standard input
  std::string candidatePath;  ///< -c: the rules to try
  std::string currentPath;    ///< --current: compare with this config; "" = the logged decisions
  size_t examples = 3;        ///< examples printed per kind of change
};

/// Prints the report to `out`, problems with the files to `err`. Returns 0
/// when no decision changes, 1 when some do, 2 when a config does not load
/// or the log cannot be read. Malformed lines are counted, never fatal.
int runReplay(const ReplayCommand& cmd, std::ostream& out, std::ostream& err);

}  // namespace portcullis::replay
