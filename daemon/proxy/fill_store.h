#pragma once
// Where a BackgroundFill stores the body it reads after the client left: a
// small interface, so one fill mechanism serves both an exchange's cache
// fill (StageFillStore: the CacheStage, an ordinary entry or a 200 stored
// as slices) and a SlicedFetch's slice fetch (SliceFillStore: one slice
// entry and the collapsed fetch other clients joined). A store is taken
// over mid-body, still storing; it then sees the rest of the body (tee),
// says when it stopped storing, and ends committed or aborted, once. Any
// collapsed fetch it leads ends with it, so the clients that joined see
// the slice (or object) complete or failed. On the worker's loop thread only.

#include <event2/buffer.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acl/ip_address.h"
#include "cache/entry_writer.h"
#include "daemon/http/message.h"
#include "daemon/http/uri.h"
#include "daemon/proxy/cache_stage.h"
#include "daemon/proxy/collapsed_forwarding.h"
#include "daemon/proxy/proxy_context.h"

namespace portcullis::proxy {

class FillStore {
 public:
  virtual ~FillStore() = default;
  /// The fill takes the store over; `request`, `target` and `addresses` are
  /// the fill's own copies and outlive the store.
  virtual void adopt(const http::RequestHead& request, const http::Target& target,
                     const std::vector<acl::IpAddress>& addresses) = 0;
  /// Body bytes as they arrive (the first `n` of `body`; not drained).
  virtual void tee(evbuffer* body, size_t n) = 0;
  virtual void tee(std::string_view bytes) = 0;
  /// Still storing (false once too big, disk trouble, or ended).
  virtual bool storing() const = 0;
  /// The unit being stored is whole: commit it; a lead ends complete.
  /// commit() and abort() are idempotent; the first ending counts.
  virtual void commit() = 0;
  /// Not whole: drop what is half-stored; a lead ends failed.
  virtual void abort() = 0;
};

/// An exchange's CacheStage, kStoring (an entry, or slices by SlicedWriter).
class StageFillStore final : public FillStore, private CacheStage::Owner {
 public:
  explicit StageFillStore(std::unique_ptr<CacheStage> stage) : stage_(std::move(stage)) {}
  void adopt(const http::RequestHead& request, const http::Target& target,
             const std::vector<acl::IpAddress>& addresses) override {
    stage_->adopt(*this, request, target, addresses);
  }
  void tee(evbuffer* body, size_t n) override { stage_->tee(body, n); }
  void tee(std::string_view bytes) override { stage_->tee(bytes); }
  bool storing() const override { return stage_->phase() == CacheStage::Phase::kStoring; }
  void commit() override { stage_->finishWrite(true); }
  void abort() override { stage_->end(InFlightFetch::Phase::kFailed); }

 private:
  // CacheStage::Owner: only the stage's storing side runs after the hand-over.
  evbuffer* clientOutput() override { return nullptr; }
  void writeToClient(std::string_view) override {}
  log::AccessRecord& record() override { return record_; }
  bool keepAlive() const override { return false; }
  acl::Decision admitAddresses(const std::vector<acl::IpAddress>&) const override { return {}; }
  void servedFromCache() override {}
  void answer(ErrorReply, bool) override {}
  event* waiterWake() override { return nullptr; }
  void waitForFetch(std::shared_ptr<InFlightFetch>) override {}
  void serveSliced(std::string, std::shared_ptr<const cache::StoredEntry>) override {}

  std::unique_ptr<CacheStage> stage_;
  log::AccessRecord record_;  ///< unused: the fill keeps the line
};

/// One slice a SlicedFetch was fetching: its entry writer, and the
/// collapsed fetch (keyed by the slice key) it leads, if any.
class SliceFillStore final : public FillStore {
 public:
  SliceFillStore(ProxyContext& context, std::unique_ptr<cache::EntryWriter> writer,
                 std::shared_ptr<InFlightFetch> lead, std::string sliceKey, uint64_t sliceLength);
  ~SliceFillStore() override { abort(); }
  void adopt(const http::RequestHead&, const http::Target&,
             const std::vector<acl::IpAddress>&) override {}
  void tee(evbuffer* body, size_t n) override;
  void tee(std::string_view bytes) override;
  bool storing() const override { return writer_ != nullptr; }
  void commit() override;
  void abort() override;

 private:
  void endLead(InFlightFetch::Phase outcome);

  ProxyContext& context_;
  std::unique_ptr<cache::EntryWriter> writer_;
  std::shared_ptr<InFlightFetch> lead_;
  std::string sliceKey_;
  uint64_t sliceLength_;
  bool ended_ = false;
};

}  // namespace portcullis::proxy
