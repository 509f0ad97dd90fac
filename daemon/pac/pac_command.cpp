#include "daemon/pac/pac_command.h"

#include "daemon/config/config_loader.h"
#include "daemon/pac/pac_file.h"

namespace portcullis::pac {

int runPac(const std::string& configPath, std::ostream& out, std::ostream& err) {
  config::LoadResult loaded = config::loadConfigFile(configPath);
  for (const config::Diagnostic& d : loaded.diagnostics) err << d.format() << "\n";
  if (!loaded.config) {
    err << configPath << ": the configuration has errors; no PAC file\n";
    return 1;
  }
  if (loaded.config->pac.proxies.empty()) {
    err << configPath
        << ": no proxy address a browser can use (server.listen is a wildcard); add [pac] "
           "proxies = [\"http://proxy.example:3128\"]\n";
    return 1;
  }
  out << renderPacFile(*loaded.config);
  return 0;
}

}  // namespace portcullis::pac
