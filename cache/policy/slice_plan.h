#pragma once
// Sliced storage, the pure part: which fixed-size slices a client range
// needs, the Range/If-Range a slice fetch sends, and whether an origin's
// 206 is the slice we asked for of the object version we know. No I/O;
// the proxy's SlicedFetch (daemon/proxy/sliced_fetch.h) does the fetching.
//
// An object of `total` bytes cut into slices of `sliceSize` bytes has
// ceil(total / sliceSize) slices; slice i holds bytes
// [i * sliceSize, min((i + 1) * sliceSize, total) - 1]. Each slice is an
// ordinary cache entry under sliceKey(); the object's descriptor (its head,
// validators and length) is an entry under descriptorKey(). Both keys
// start with a word and a space, which no normalised URL (and so no
// primary key) can contain.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/http/message.h"

namespace portcullis::cache::policy {

/// Inclusive range of slice indexes.
struct SliceSpan {
  uint64_t first = 0;
  uint64_t last = 0;
};

/// Geometry of one object cut into slices. sliceSize > 0, total > 0.
struct SliceGeometry {
  uint64_t total = 0;
  uint64_t sliceSize = 0;
  uint64_t count() const { return (total + sliceSize - 1) / sliceSize; }
  uint64_t start(uint64_t index) const { return index * sliceSize; }
  /// Length of slice `index` (the last one may be short).
  uint64_t length(uint64_t index) const;
  /// The slices holding bytes [first, last] (inclusive, last < total).
  SliceSpan covering(uint64_t first, uint64_t last) const;
};

/// A parsed Content-Range of a 206 (RFC 9110 §14.4): "bytes first-last/total",
/// total nullopt for "*".
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  std::optional<uint64_t> total;
};

/// Parses a Content-Range field value. nullopt when it is not one byte
/// range ("bytes */n" of a 416 included), last < first, or last >= total.
std::optional<ContentRange> parseContentRange(std::string_view value);

/// What identifies one version of an object: its strong ETag (else its
/// Last-Modified) and its length. A slice is only ever combined with
/// slices of the same version.
struct ObjectVersion {
  enum class Kind : uint8_t { kETag, kLastModified };
  Kind kind = Kind::kETag;
  std::string validator;  ///< the field value as sent (ETag quoted)
  uint64_t total = 0;
  /// Text that differs whenever kind, validator or total differ (length-prefixed).
  std::string tag() const;
  bool operator==(const ObjectVersion&) const = default;
};

/// The version a response's fields describe for an object of `total`
/// bytes: the strong ETag, else Last-Modified (RFC 9110 §13.1.5 lets
/// If-Range carry either); nullopt when there is neither (a weak ETag
/// alone does not do): such an object is not sliced.
std::optional<ObjectVersion> versionOf(const http::HeaderMap& headers, uint64_t total);

/// The Range field value asking for slice `index`: "bytes=a-b". With
/// `total` unknown (a first fetch) b is the slice's nominal end.
std::string sliceRangeValue(const SliceGeometry& geometry, uint64_t index);

/// How an origin's answer to a slice request relates to what we asked.
enum class SliceAnswer : uint8_t {
  kOk,            ///< 206, the exact slice, same version (or the first of a new object)
  kIgnoredRange,  ///< 200: the origin ignores Range, or If-Range failed (the object changed)
  kBadRange,      ///< 206 with no, unparsable or other Content-Range: not usable
  kNoVersion,     ///< 206 without a total length or without a usable validator
  kChanged,       ///< 206 of the right bytes but another version (validators or length)
  kOther,         ///< any other status (an error to relay or fail on)
};
std::string_view sliceAnswerName(SliceAnswer answer);

/// Checks `response` to a request for slice `index` of `sliceSize`.
/// `known` is the version the descriptor holds (nullopt for a first fetch
/// of an unknown object: then any version is accepted and returned in
/// `seen`). `seen` receives the version the response describes.
SliceAnswer checkSliceAnswer(const http::ResponseHead& response, uint64_t index, uint64_t sliceSize,
                             const std::optional<ObjectVersion>& known,
                             std::optional<ObjectVersion>& seen);

/// Cache key of the descriptor of the object stored under `primaryKey`.
std::string descriptorKey(std::string_view primaryKey);
/// Cache key of slice `index` of `version` of that object, cut in `sliceSize` slices.
std::string sliceKey(std::string_view primaryKey, const ObjectVersion& version, uint64_t sliceSize,
                     uint64_t index);

/// The primary key a slice key (of any version and slice size) belongs to,
/// "" when `key` is not a slice key. Purging a URL removes every slice
/// whose owner is its primary key.
std::string_view sliceOwner(std::string_view key);

}  // namespace portcullis::cache::policy
