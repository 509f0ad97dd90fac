// loadConfigText on arbitrary bytes: must never crash, hang or leak, and
// must either yield a config or at least one error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // List files named by fuzzed configs are resolved under a directory that
  // does not exist, so the target never reads the real file system.
  auto r = portcullis::config::loadConfigText(text, "fuzz.toml", "/nonexistent-portcullis-fuzz");
  if (!r.config && !portcullis::config::hasErrors(r.diagnostics)) std::abort();
  for (const auto& d : r.diagnostics) (void)d.format();
  return 0;
}
