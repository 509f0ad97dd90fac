#pragma once
// Human-readable sizes and durations, as written in the config.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::config {

/// "250ms", "30s", "5m", "1h", "1d" (one integer and one unit, a space
/// between is allowed). nullopt and `error` set when invalid or overflowing.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text, std::string& error);

/// "512 B", "8 KiB", "10 GiB", "1 TiB", "500 KB", "2 GB" (KB/MB/GB/TB are
/// powers of 1000), and "0". A number without a unit other than 0 is an
/// error. nullopt and `error` set when invalid or overflowing.
std::optional<uint64_t> parseSize(std::string_view text, std::string& error);

}  // namespace portcullis::config
