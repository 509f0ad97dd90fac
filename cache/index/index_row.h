#pragma once
// One durable index row, and the compact text form of a header map kept in
// it. Pure.

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/http/header_map.h"

namespace portcullis::cache {

/// A stored object as the SQLite index keeps it. Times are milliseconds
/// since the Unix epoch.
struct IndexRow {
  uint64_t id = 0;
  std::string key;        ///< primary key (normalised URI)
  std::string secondary;  ///< Vary secondary key ("" when no Vary)
  std::string varyNames;  ///< joined lower-case names ("a,b")
  std::string file;       ///< body path relative to the cache dir
  uint64_t bodySize = 0;
  int status = 0;
  std::string reason;
  std::string headers;  ///< encodeHeaders() form
  int64_t requestTimeMs = 0;
  int64_t responseTimeMs = 0;
  std::string originAddress;  ///< IP the body came from ("" when unknown)
};

/// "name: value\r\n" per field, in order. Field names never contain ':'
/// and values never contain CR/LF (the HTTP parser refuses them), so the
/// form is unambiguous.
std::string encodeHeaders(const http::HeaderMap& headers);
/// Inverse of encodeHeaders; lines without ':' are skipped (the disk is
/// not trusted to be intact).
http::HeaderMap decodeHeaders(std::string_view text);

/// 64-bit FNV-1a of primary key, a NUL, and secondary key: the stable key
/// of an object for eviction and the body file name.
uint64_t objectKeyHash(std::string_view key, std::string_view secondary);

}  // namespace portcullis::cache
