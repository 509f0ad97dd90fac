#pragma once
// Writing one response body into the cache, visible to other readers while
// it grows (read-while-writer) and published only when complete.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cache/stored_entry.h"
#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"

namespace portcullis::cache {

class CacheCore;

/// The part of a write that readers share (collapsed-forwarding waiters hold
/// a shared_ptr to it; it outlives the writer). Thread-safe.
///
/// Protocol for a reader on another thread: call openReader() once, then
/// repeatedly read (pread / evbuffer_add_file) up to bytesWritten() bytes;
/// the proxy tells waiters when more bytes arrived. When state() becomes
/// kCommitted, the body is complete at bytesWritten(); kAborted means the
/// body is truncated and the client connection must be closed.
class InFlightBody {
 public:
  enum class State { kWriting, kCommitted, kAborted };

  /// Bytes durably appended so far (acquire ordering: once seen, that many
  /// bytes can be read through any fd of the file).
  uint64_t bytesWritten() const { return written_.load(std::memory_order_acquire); }
  State state() const { return state_.load(std::memory_order_acquire); }
  /// Path of the growing temporary file (moves to the body path on commit;
  /// use openReader() rather than opening this yourself).
  const std::string& tempPath() const { return tempPath_; }
  /// Opens a new read-only fd on the body: the temporary file while writing,
  /// the published file after commit; error after abort. An fd opened while
  /// writing stays valid across commit (rename keeps the inode) and abort
  /// (unlink keeps open files readable).
  Result<UniqueFd> openReader() const;
  /// The published entry once state() is kCommitted, else nullptr.
  std::shared_ptr<const StoredEntry> committedEntry() const;

 private:
  friend class EntryWriter;
  InFlightBody(std::string tempPath, std::string finalPath);
  std::string tempPath_;
  std::string finalPath_;
  std::atomic<uint64_t> written_{0};
  std::atomic<State> state_{State::kWriting};
  mutable std::mutex mu_;  // guards the rename against openReader
  std::shared_ptr<const StoredEntry> entry_;
  bool renamed_ = false;  // the body now lives at finalPath_
};

/// Writes one body. Used by a single thread (the one receiving the
/// response); readers use progress(). Destroying an uncommitted writer
/// aborts it. May outlive the Cache (the body is then not indexed).
class EntryWriter {
 public:
  ~EntryWriter();
  EntryWriter(const EntryWriter&) = delete;
  EntryWriter& operator=(const EntryWriter&) = delete;

  /// Appends body bytes. On error (max_object_size passed, min_free_disk
  /// reached, write failure) the writer is aborted and every later call
  /// fails; the proxy goes on relaying to its client, uncached.
  Result<void> append(std::string_view bytes);
  /// Completes the body: checks the length against the expected length
  /// given at beginWrite (if any), fsyncs per FsyncPolicy, renames into
  /// objects/, publishes in the in-memory index (visible to lookup() at
  /// once) and queues the index row. Call only when the response framing
  /// said the body is complete. On error the writer is aborted.
  Result<std::shared_ptr<const StoredEntry>> commit();
  /// Drops the partial body. Idempotent.
  void abort();

  std::shared_ptr<const InFlightBody> progress() const { return progress_; }
  uint64_t bytesWritten() const { return progress_->bytesWritten(); }

 private:
  friend class Cache;
  EntryWriter(std::shared_ptr<CacheCore> core, std::shared_ptr<StoredEntry> pending, UniqueFd fd,
              std::string tempPath, std::optional<uint64_t> expectedLength);
  Result<void> fail(Error why);

  std::shared_ptr<CacheCore> core_;
  std::shared_ptr<StoredEntry> pending_;  // filled in; published on commit
  UniqueFd fd_;
  std::optional<uint64_t> expected_;
  std::shared_ptr<InFlightBody> progress_;
  uint64_t written_ = 0;
  uint64_t nextSpaceCheck_ = 0;
  bool done_ = false;
};

}  // namespace portcullis::cache
