#pragma once
// `portcullis pac -c FILE`: prints the PAC file the daemon would serve.

#include <ostream>
#include <string>

namespace portcullis::pac {

/// Loads the config (printing its diagnostics to `err`) and writes its PAC
/// file to `out`. 0 on success; 1 when the config has errors or names no
/// proxy address a browser could use.
int runPac(const std::string& configPath, std::ostream& out, std::ostream& err);

}  // namespace portcullis::pac
