#include "cache/index/index_row.h"

namespace portcullis::cache {

std::string encodeHeaders(const http::HeaderMap& headers) {
  std::string out;
  for (const auto& f : headers.fields()) {
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
  return out;
}

http::HeaderMap decodeHeaders(std::string_view text) {
  http::HeaderMap h;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      std::string_view value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      h.add(std::string(line.substr(0, colon)), std::string(value));
    }
    pos = end + 2;
  }
  return h;
}

uint64_t objectKeyHash(std::string_view key, std::string_view secondary) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (char c : key) mix(static_cast<unsigned char>(c));
  mix(0);
  for (char c : secondary) mix(static_cast<unsigned char>(c));
  return h;
}

}  // namespace portcullis::cache
