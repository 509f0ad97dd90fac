#pragma once
// Storing a whole response that streams past as slices (sliced storage,
// cache/policy/slice_plan.h): the descriptor first, then one ordinary
// entry per slice, each committed as soon as it is full. A body cut short
// keeps the slices already committed (they are whole and of the same
// version); the one being written is dropped.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cache/cache.h"
#include "cache/policy/slice_plan.h"
#include "daemon/base/result.h"
#include "daemon/http/message.h"

namespace portcullis::cache {

class SlicedWriter {
 public:
  struct Start {
    std::string primaryKey;
    policy::ObjectVersion version;  ///< validators and total length
    uint64_t sliceSize = 0;
    http::ResponseHead head;  ///< the 200 as received (Content-Length = version.total)
    SystemTime requestTime;
    SystemTime responseTime;
    std::string originAddress;
  };

  /// Stores the descriptor and gets ready for the body. Errors as
  /// Cache::beginWrite (then nothing is stored and the caller relays uncached).
  static Result<std::unique_ptr<SlicedWriter>> begin(Cache& cache, Start start);

  /// Appends body bytes in order. False once storing stopped (disk trouble,
  /// more bytes than the length); the caller goes on relaying.
  bool append(std::string_view bytes);
  /// The body ended or broke: a slice not yet full is dropped (each full
  /// one was committed as it filled).
  void finish();
  /// Slices committed so far.
  uint64_t committed() const { return committed_; }
  /// Bytes still to append before the slice being written is whole (0 at
  /// a slice boundary or once stopped).
  uint64_t leftInSlice() const {
    if (stopped_ || !writer_ || index_ >= geometry_.count()) return 0;
    return geometry_.length(index_) - inSlice_;
  }

 private:
  SlicedWriter(Cache& cache, Start start) : cache_(cache), start_(std::move(start)) {}
  bool openSlice();
  bool commitSlice();

  Cache& cache_;
  Start start_;
  policy::SliceGeometry geometry_;
  uint64_t index_ = 0;
  uint64_t inSlice_ = 0;  ///< bytes of the current slice written
  std::unique_ptr<EntryWriter> writer_;
  uint64_t committed_ = 0;
  bool stopped_ = false;
};

}  // namespace portcullis::cache
