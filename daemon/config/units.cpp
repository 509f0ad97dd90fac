#include "daemon/config/units.h"

#include <charconv>
#include <limits>
#include <utility>

namespace portcullis::config {

namespace {
// Splits "30 s" into 30 and "s"; false when there is no leading number.
bool splitNumber(std::string_view text, uint64_t& number, std::string_view& unit) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || ptr == text.data()) return false;
  unit = text.substr(static_cast<size_t>(ptr - text.data()));
  if (unit.starts_with(' ')) unit.remove_prefix(1);
  return true;
}

bool multiply(uint64_t a, uint64_t b, uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}
}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text, std::string& error) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  uint64_t n = 0;
  std::string_view unit;
  if (!splitNumber(text, n, unit)) {
    error = "'" + std::string(text) + "' is not a duration; write e.g. \"250ms\", \"30s\", \"5m\", \"1h\"";
    return std::nullopt;
  }
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    uint64_t ms = 0;
    // Keep within what milliseconds::rep holds, with room to add to a time point.
    if (!multiply(n, factor, ms) || ms > (uint64_t{1} << 52)) {
      error = "duration '" + std::string(text) + "' is too long";
      return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<int64_t>(ms));
  }
  error = "'" + std::string(text) + "' has no valid unit; use ms, s, m, h or d (e.g. \"30s\")";
  return std::nullopt;
}

std::optional<uint64_t> parseSize(std::string_view text, std::string& error) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {{"B", 1},
                                                                     {"KiB", uint64_t{1} << 10},
                                                                     {"MiB", uint64_t{1} << 20},
                                                                     {"GiB", uint64_t{1} << 30},
                                                                     {"TiB", uint64_t{1} << 40},
                                                                     {"KB", 1000},
                                                                     {"MB", 1000'000},
                                                                     {"GB", 1000'000'000},
                                                                     {"TB", 1000'000'000'000}};
  uint64_t n = 0;
  std::string_view unit;
  if (!splitNumber(text, n, unit)) {
    error = "'" + std::string(text) + "' is not a size; write e.g. \"512 KiB\", \"10 GiB\"";
    return std::nullopt;
  }
  // A bare number is refused (except 0, the same in every unit): "10" meant
  // as 10 GiB would otherwise quietly become 10 bytes.
  if (unit.empty()) {
    if (n == 0) return 0;
    error = "size needs a unit: write \"" + std::to_string(n) + " MiB\" (or \"" +
            std::to_string(n) + " B\" for bytes)";
    return std::nullopt;
  }
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    uint64_t bytes = 0;
    if (!multiply(n, factor, bytes)) {
      error = "size '" + std::string(text) + "' is too large";
      return std::nullopt;
    }
    return bytes;
  }
  error = "'" + std::string(text) +
          "' has no valid unit; use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)";
  return std::nullopt;
}

}  // namespace portcullis::config
