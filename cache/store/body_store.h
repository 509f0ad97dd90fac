#pragma once
// Body files on disk: naming, temporary files, publication by rename,
// directory scans and free-space checks. Only this file (and sqlite_index)
// knows the on-disk layout:
//
//   <dir>/index.sqlite            the durable index (cache/index)
//   <dir>/objects/<xx>/<h>-<id>   complete bodies; xx = 256 shards by key hash
//   <dir>/tmp/<id>.part           bodies being written (never served from the index)
//   <dir>/tmp-stale-<n>/          a previous run's tmp/, removed in the background

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"

namespace portcullis::cache {

/// How hard a commit pushes a body to stable storage before it is indexed.
enum class FsyncPolicy {
  kNone,  ///< rely on the page cache: a process crash loses nothing that was
          ///< indexed; an OS crash may lose recent objects (caught by the size
          ///< check when opened)
  kData,  ///< fsync the body file before the rename
  kFull,  ///< kData plus fsync of the shard directory after the rename
};

/// Thread-safe: holds only the directory paths.
class BodyStore {
 public:
  explicit BodyStore(std::string dir);

  /// Creates the layout and moves a previous run's tmp/ aside (one rename) so
  /// that its files can never be mistaken for this run's; removeStaleTemp()
  /// deletes them later, off the start-up path.
  Result<void> prepare();
  /// Deletes every tmp-stale-* directory. Background thread.
  void removeStaleTemp() const;

  const std::string& dir() const { return dir_; }
  std::string indexPath() const { return dir_ + "/index.sqlite"; }
  /// "objects/xx/<hash16>-<id16>", relative to dir().
  static std::string relativeBodyPath(uint64_t keyHash, uint64_t id);
  /// Parses a body file name "<hash16>-<id16>"; false when it is not one.
  static bool parseBodyName(std::string_view name, uint64_t& keyHash, uint64_t& id);
  std::string absolute(std::string_view relative) const { return dir_ + "/" + std::string(relative); }
  std::string tempPath(uint64_t id) const;

  /// Creates a new, empty temporary file for writing (O_EXCL, mode 0600).
  Result<UniqueFd> createTemp(const std::string& path) const;
  /// Writes all of `data` at the end of `fd`, retrying short writes.
  static Result<void> writeAll(int fd, std::string_view data);
  /// fsync per policy, then rename `tempPath` to `relative`.
  Result<void> publish(int fd, const std::string& tempPath, const std::string& relative,
                       FsyncPolicy policy) const;
  /// Unlinks a body file (relative path); a missing file is not an error.
  void removeBody(const std::string& relative) const;

  /// Bytes available to unprivileged users on the cache file system
  /// (statvfs f_bavail * f_frsize).
  Result<uint64_t> freeBytes() const;

  /// Calls `visit(shard, names)` once per shard directory with the names of
  /// the regular entries found in it. Used by the start-up reconcile.
  void scanShards(const std::function<void(const std::string& shard,
                                           const std::vector<std::string>& names)>& visit) const;

 private:
  std::string dir_;
};

}  // namespace portcullis::cache
