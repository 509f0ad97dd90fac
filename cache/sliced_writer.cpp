#include "cache/sliced_writer.h"

#include <algorithm>

namespace portcullis::cache {

namespace {
WriteRequest requestFor(const SlicedWriter::Start& s, std::string key, http::ResponseHead head,
                        uint64_t length) {
  WriteRequest w;
  w.key = std::move(key);
  w.response = std::move(head);
  w.requestTime = s.requestTime;
  w.responseTime = s.responseTime;
  w.expectedLength = length;
  w.originAddress = s.originAddress;
  return w;
}
}  // namespace

Result<std::unique_ptr<SlicedWriter>> SlicedWriter::begin(Cache& cache, Start start) {
  auto descriptor =
      cache.beginWrite(requestFor(start, policy::descriptorKey(start.primaryKey), start.head, 0));
  if (!descriptor.ok()) return descriptor.error();
  if (auto committed = descriptor.value()->commit(); !committed.ok()) return committed.error();
  std::unique_ptr<SlicedWriter> w(new SlicedWriter(cache, std::move(start)));
  w->geometry_ = policy::SliceGeometry{w->start_.version.total, w->start_.sliceSize};
  return w;
}

bool SlicedWriter::openSlice() {
  const uint64_t first = geometry_.start(index_);
  const uint64_t length = geometry_.length(index_);
  // Each slice keeps a 206 head of its own, as if fetched with Range.
  http::ResponseHead head = start_.head;
  head.status = 206;
  head.reason = "Partial Content";
  head.headers.set("Content-Range", "bytes " + std::to_string(first) + "-" +
                                        std::to_string(first + length - 1) + "/" +
                                        std::to_string(geometry_.total));
  head.headers.set("Content-Length", std::to_string(length));
  auto writer = cache_.beginWrite(requestFor(
      start_, policy::sliceKey(start_.primaryKey, start_.version, start_.sliceSize, index_),
      std::move(head), length));
  if (!writer.ok()) return false;
  writer_ = std::move(writer.value());
  inSlice_ = 0;
  return true;
}

bool SlicedWriter::commitSlice() {
  auto entry = writer_->commit();
  writer_.reset();
  if (!entry.ok()) return false;
  ++committed_;
  ++index_;
  return true;
}

bool SlicedWriter::append(std::string_view bytes) {
  while (!stopped_ && !bytes.empty()) {
    if (index_ >= geometry_.count()) {
      stopped_ = true;  // more than the length said: the framing will fail it
      break;
    }
    if (!writer_ && !openSlice()) {
      stopped_ = true;
      break;
    }
    const uint64_t room = geometry_.length(index_) - inSlice_;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(room, bytes.size()));
    if (!writer_->append(bytes.substr(0, take)).ok()) {
      writer_.reset();
      stopped_ = true;
      break;
    }
    inSlice_ += take;
    bytes.remove_prefix(take);
    if (inSlice_ == geometry_.length(index_) && !commitSlice()) stopped_ = true;
  }
  return !stopped_;
}

void SlicedWriter::finish() {
  if (writer_) writer_->abort();
  writer_.reset();
  stopped_ = true;
}

}  // namespace portcullis::cache
