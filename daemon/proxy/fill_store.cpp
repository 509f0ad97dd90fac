// SliceFillStore: a slice entry finished without its client.

#include "daemon/proxy/fill_store.h"

#include <algorithm>

#include "daemon/admin/stats.h"
#include "daemon/net/evbuffer_pieces.h"

namespace portcullis::proxy {

SliceFillStore::SliceFillStore(ProxyContext& context, std::unique_ptr<cache::EntryWriter> writer,
                               std::shared_ptr<InFlightFetch> lead, std::string sliceKey,
                               uint64_t sliceLength)
    : context_(context),
      writer_(std::move(writer)),
      lead_(std::move(lead)),
      sliceKey_(std::move(sliceKey)),
      sliceLength_(sliceLength) {}

void SliceFillStore::tee(evbuffer* body, size_t n) {
  if (!writer_ || n == 0) return;
  net::forEachPeekedPiece(body, n, [this](std::string_view piece) {
    tee(piece);
    return writer_ != nullptr;  // a failed append dropped the writer
  });
}

void SliceFillStore::tee(std::string_view bytes) {
  if (!writer_ || bytes.empty()) return;
  if (auto appended = writer_->append(bytes); !appended.ok()) {
    context_.noteCacheStorage(&appended.error());
    writer_.reset();  // aborted by the failed append
    endLead(InFlightFetch::Phase::kFailed);
    return;
  }
  // The clients that joined this slice read the growing file.
  if (lead_) lead_->notifyProgress();
}

void SliceFillStore::commit() {
  if (ended_) return;
  ended_ = true;
  // Counted as a slice fetch like one made for a client (the slice metrics
  // then add up to what the origin sent for slices).
  context_.stats->sliceFetched(sliceLength_);
  if (!writer_) return;
  auto entry = writer_->commit();
  const bool committed = entry.ok();
  context_.noteCacheStorage(committed ? nullptr : &entry.error());
  writer_.reset();
  endLead(committed ? InFlightFetch::Phase::kComplete : InFlightFetch::Phase::kFailed);
}

void SliceFillStore::abort() {
  ended_ = true;
  if (writer_) writer_->abort();
  writer_.reset();
  endLead(InFlightFetch::Phase::kFailed);
}

void SliceFillStore::endLead(InFlightFetch::Phase outcome) {
  if (!lead_) return;
  lead_->finish(outcome);
  context_.collapsed->remove(sliceKey_, lead_.get());
  lead_.reset();
}

}  // namespace portcullis::proxy
