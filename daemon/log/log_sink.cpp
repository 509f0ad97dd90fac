#include "daemon/log/log_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::log {
namespace {

int openAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

// Writes all of `data`; false with errno set when the kernel refuses.
bool writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

LogSink::LogSink() : LogSink(Options{}) {}
LogSink::LogSink(Options options) : options_(options) {}
LogSink::~LogSink() {
  stop();
}

Result<void> LogSink::open(const std::string& path, int dashFd) {
  if (running_.load()) return makeError("log sink already open: " + path_);
  path_ = path;
  if (path == "-") {
    fd_ = dashFd;
    ownsFd_ = false;
  } else {
    fd_ = openAppend(path);
    if (fd_ < 0) return makeError("cannot open log file " + path + ": " + std::strerror(errno));
    ownsFd_ = true;
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  running_.store(true, std::memory_order_release);
  writer_ = std::thread([this] { run(); });
  return {};
}

void LogSink::submit(std::string line) noexcept {
  if (!running_.load(std::memory_order_acquire)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    const size_t size = line.size() + 1;
    if (stopping_ || queuedBytes_ + size > options_.maxQueuedBytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    try {
      line.push_back('\n');
      queue_.push_back(std::move(line));
    } catch (...) {  // out of memory: a log line is not worth dying for
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // Wake only when crossing the threshold, so a busy proxy costs one
    // notify per batch rather than per line.
    wake = queuedBytes_ < options_.wakeBytes && queuedBytes_ + size >= options_.wakeBytes;
    queuedBytes_ += size;
    ++accepted_;
  }
  if (wake) wake_.notify_one();
}

void LogSink::reopen() noexcept {
  if (!running_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard lock(mu_);
    reopenWanted_ = true;
  }
  wake_.notify_one();
}

void LogSink::flush() {
  std::unique_lock lock(mu_);
  if (!running_.load()) return;
  const uint64_t target = accepted_;
  flushWanted_ = true;
  wake_.notify_one();
  // The writer drains everything accepted, even when stopping, so this ends.
  done_.wait(lock, [&] { return processed_ >= target; });
}

void LogSink::stop() {
  {
    std::lock_guard lock(mu_);
    if (!writer_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
  running_.store(false, std::memory_order_release);
  if (ownsFd_ && fd_ >= 0) ::close(fd_);
  fd_ = -1;
  done_.notify_all();
}

void LogSink::run() {
  std::vector<std::string> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, options_.flushInterval, [&] {
      return stopping_ || flushWanted_ || reopenWanted_ || queuedBytes_ >= options_.wakeBytes;
    });
    batch.swap(queue_);
    queuedBytes_ = 0;
    const bool reopenNow = reopenWanted_;
    reopenWanted_ = false;
    flushWanted_ = false;
    const bool last = stopping_;
    lock.unlock();
    if (!batch.empty()) writeBatch(batch);
    if (reopenNow) doReopen();
    lock.lock();
    processed_ += batch.size();
    batch.clear();
    done_.notify_all();
    // On stop, everything accepted before stopping_ was set is in `batch`
    // already: submit() refuses once stopping_ is true.
    if (last) return;
  }
}

void LogSink::writeBatch(std::vector<std::string>& batch) {
  std::string data;
  size_t total = 0;
  for (const auto& l : batch) total += l.size();
  data.reserve(total);
  for (const auto& l : batch) data += l;
  if (writeAll(fd_, data)) {
    written_.fetch_add(batch.size(), std::memory_order_relaxed);
    return;
  }
  const std::string why = std::strerror(errno);
  failed_.fetch_add(batch.size(), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  lastError_ = "write " + path_ + ": " + why;
}

void LogSink::doReopen() {
  if (!ownsFd_) return;  // stdout/stderr: nothing to reopen
  const int fd = openAppend(path_);
  if (fd < 0) {
    const std::string why = std::strerror(errno);
    reopenFailures_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    lastError_ = "reopen " + path_ + ": " + why;
    return;
  }
  ::close(fd_);
  fd_ = fd;
  reopens_.fetch_add(1, std::memory_order_relaxed);
}

SinkCounters LogSink::counters() const {
  SinkCounters c;
  c.written = written_.load(std::memory_order_relaxed);
  c.dropped = dropped_.load(std::memory_order_relaxed);
  c.failed = failed_.load(std::memory_order_relaxed);
  c.reopens = reopens_.load(std::memory_order_relaxed);
  c.reopenFailures = reopenFailures_.load(std::memory_order_relaxed);
  c.lastError = lastError();
  return c;
}

std::string LogSink::lastError() const {
  std::lock_guard lock(mu_);
  return lastError_;
}

}  // namespace portcullis::log
