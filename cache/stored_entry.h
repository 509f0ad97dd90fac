#pragma once
// An immutable, complete cached object as handed to the proxy.

#include <cstdint>
#include <string>
#include <vector>

#include "cache/policy/stored_response.h"
#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"

namespace portcullis::cache {

/// Shared as std::shared_ptr<const StoredEntry>: never modified after it is
/// published (a 304 refresh publishes a new entry pointing at the same
/// body). Safe to use from any thread.
struct StoredEntry {
  uint64_t id = 0;        ///< unique per stored body, never reused
  uint64_t keyHash = 0;   ///< objectKeyHash(key, secondaryKey)
  std::string key;        ///< primary key: normalised absolute URI
  std::string secondaryKey;             ///< Vary secondary key ("" without Vary)
  std::vector<std::string> varyNames;   ///< lower-case field names from Vary
  policy::StoredResponse response;      ///< status, reason, headers, clocks
  uint64_t bodySize = 0;
  std::string bodyFile;  ///< relative to the cache dir
  std::string bodyPath;  ///< absolute path of the body file
  /// The origin's IP address the body was fetched from ("" when unknown):
  /// lets the proxy re-check the destination rules when DNS is down.
  std::string originAddress;

  /// Opens the body read-only and checks that its length is bodySize. An
  /// error means the entry is no longer usable (evicted, replaced, or the
  /// file was damaged): treat it as a miss. Prefer Cache::openBody, which
  /// also drops a damaged entry from the index.
  Result<UniqueFd> openBody() const;
};

}  // namespace portcullis::cache
