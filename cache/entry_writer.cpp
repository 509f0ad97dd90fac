#include "cache/entry_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cache/cache_core.h"

namespace portcullis::cache {
namespace {
// min_free_disk is re-checked after every this many bytes written.
constexpr uint64_t kSpaceCheckInterval = 1 << 20;
}  // namespace

InFlightBody::InFlightBody(std::string tempPath, std::string finalPath)
    : tempPath_(std::move(tempPath)), finalPath_(std::move(finalPath)) {}

Result<UniqueFd> InFlightBody::openReader() const {
  std::lock_guard lk(mu_);
  const State s = state_.load(std::memory_order_acquire);
  if (s == State::kAborted) return makeError("cache write aborted");
  const std::string& path = renamed_ ? finalPath_ : tempPath_;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return makeError("open " + path + ": " + std::strerror(errno));
  return fd;
}

std::shared_ptr<const StoredEntry> InFlightBody::committedEntry() const {
  std::lock_guard lk(mu_);
  return entry_;
}

EntryWriter::EntryWriter(std::shared_ptr<CacheCore> core, std::shared_ptr<StoredEntry> pending,
                         UniqueFd fd, std::string tempPath, std::optional<uint64_t> expectedLength)
    : core_(std::move(core)),
      pending_(std::move(pending)),
      fd_(std::move(fd)),
      expected_(expectedLength),
      progress_(new InFlightBody(std::move(tempPath), pending_->bodyPath)),
      nextSpaceCheck_(kSpaceCheckInterval) {
  core_->writerStarted(*pending_);
}

EntryWriter::~EntryWriter() { abort(); }

Result<void> EntryWriter::fail(Error why) {
  abort();
  return why;
}

Result<void> EntryWriter::append(std::string_view bytes) {
  if (done_) return makeError("cache writer already finished");
  const uint64_t after = written_ + bytes.size();
  if (after > core_->options().maxObjectSize) return fail(makeError("object exceeds max_object_size"));
  if (expected_ && after > *expected_) return fail(makeError("body longer than its Content-Length"));
  if (after >= nextSpaceCheck_) {
    nextSpaceCheck_ = after + kSpaceCheckInterval;
    if (core_->options().minFreeDisk > 0 && !core_->hasRoomFor(bytes.size())) {
      return fail(makeStorageError("cache file system below min_free_disk"));
    }
  }
  if (auto r = BodyStore::writeAll(fd_.get(), bytes); !r) return fail(r.error());
  written_ = after;
  progress_->written_.store(after, std::memory_order_release);
  return {};
}

Result<std::shared_ptr<const StoredEntry>> EntryWriter::commit() {
  if (done_) return makeError("cache writer already finished");
  if (expected_ && written_ != *expected_) {
    abort();
    return makeError("body length " + std::to_string(written_) + " differs from Content-Length " +
                     std::to_string(*expected_));
  }
  pending_->bodySize = written_;
  core_->beginPublish(pending_->id);
  {
    std::lock_guard lk(progress_->mu_);
    auto r = core_->store().publish(fd_.get(), progress_->tempPath_, pending_->bodyFile,
                                    core_->options().fsync);
    if (!r) {
      core_->cancelPublish(pending_->id);
      ::unlink(progress_->tempPath_.c_str());
      progress_->state_.store(InFlightBody::State::kAborted, std::memory_order_release);
      done_ = true;
      fd_.reset();
      core_->writerFinished(*pending_);
      return r.error();
    }
    progress_->renamed_ = true;
  }
  fd_.reset();
  done_ = true;
  auto published = core_->publish(pending_);
  core_->writerFinished(*pending_);
  std::lock_guard lk(progress_->mu_);
  if (!published) {
    progress_->state_.store(InFlightBody::State::kAborted, std::memory_order_release);
    return published.error();
  }
  progress_->entry_ = published.value();
  progress_->state_.store(InFlightBody::State::kCommitted, std::memory_order_release);
  return std::shared_ptr<const StoredEntry>(published.value());
}

void EntryWriter::abort() {
  if (done_) return;
  done_ = true;
  fd_.reset();
  {
    std::lock_guard lk(progress_->mu_);
    ::unlink(progress_->tempPath_.c_str());
    progress_->state_.store(InFlightBody::State::kAborted, std::memory_order_release);
  }
  core_->writerFinished(*pending_);
}

}  // namespace portcullis::cache
