#pragma once
// Canary listeners for `portcullis audit`: small servers on 127.0.0.1 that
// stand in for the services an open proxy would let a stranger reach (an
// SMTP server, a web server on an odd port, an IRC server). Each runs one
// thread in the audit process and records every connection and byte, so a
// probe's strongest evidence is "the canary saw it".

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/audit/verdict.h"
#include "daemon/base/result.h"
#include "daemon/base/unique_handle.h"
#include "daemon/cli/blocking_socket.h"

namespace portcullis::audit {

using cli::Deadline;
using cli::SteadyClock;

/// How a canary talks.
enum class CanaryStyle {
  kSmtp,  ///< sends "220 canary ESMTP", answers lines like a lenient MTA, closes after QUIT
  kHttp,  ///< answers one request with 200 and a body holding the token, then closes
  kLine,  ///< IRC-like: records lines silently; closes on QUIT or an empty line
};

/// One canary server. Thread-safe: the audit thread calls reset()/settle()
/// while the canary thread serves.
class Canary {
 public:
  /// Binds 127.0.0.1:0 (an ephemeral port) and starts serving.
  /// `token` goes into HTTP bodies so a relayed answer can be recognised.
  static Result<std::unique_ptr<Canary>> start(CanaryStyle style, std::string token);

  Canary(const Canary&) = delete;
  Canary& operator=(const Canary&) = delete;
  /// Stops the thread and closes every socket.
  ~Canary();

  uint16_t port() const { return port_; }

  /// Opens a fresh observation window for the next probe.
  void reset();

  /// Waits (condition variable, not a sleep) until every connection of the
  /// current window has closed or `deadline` passes, then returns what the
  /// window saw. Returns immediately when nothing connected.
  CanaryObservation settle(Deadline deadline);

 private:
  struct Session {
    UniqueFd fd;
    std::string in;   // bytes not yet split into lines
    std::string out;  // bytes waiting to be written
    bool closeAfterWrite = false;
    bool inData = false;  // SMTP: between DATA and "."
    uint64_t window = 0;  // which observation window it belongs to
  };

  Canary(CanaryStyle style, std::string token, UniqueFd listener, uint16_t port, UniqueFd wakeRead,
         UniqueFd wakeWrite);
  void run();
  void accept();
  /// Handles readable bytes; returns false when the session is over.
  bool onReadable(Session& s);
  bool onWritable(Session& s);
  void onLines(Session& s);
  void record(const Session& s, std::string_view bytes);
  void closed(const Session& s);

  const CanaryStyle style_;
  const std::string token_;
  UniqueFd listener_;
  const uint16_t port_;
  UniqueFd wakeRead_;
  UniqueFd wakeWrite_;
  std::vector<std::unique_ptr<Session>> sessions_;  // canary thread only

  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t window_ = 0;      // guarded by mutex_
  size_t openInWindow_ = 0;  // guarded by mutex_
  CanaryObservation seen_;   // guarded by mutex_
  std::string allBytes_;     // guarded by mutex_; first 64 KiB of the window

  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace portcullis::audit
