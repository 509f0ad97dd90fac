#pragma once
// The systemd readiness protocol through libsystemd's sd_notify(3): one
// datagram of newline-separated "KEY=VALUE" lines to the AF_UNIX socket named
// by $NOTIFY_SOCKET. libsystemd rather than our own sendto(): it follows the
// protocol as systemd changes it (vsock addresses since systemd 254, the
// SCM_CREDENTIALS it attaches), and it is already on every systemd machine.

#include <string>
#include <string_view>

#include "daemon/base/result.h"

namespace portcullis::os {

/// Sends `state` (e.g. "READY=1", "STOPPING=1", "STATUS=serving") to the
/// service manager named by $NOTIFY_SOCKET. A no-op when the variable is unset
/// or empty (not started by systemd, or not Type=notify). Failures are ignored
/// on purpose, as sd_notify() callers usually do: the daemon must not stop
/// serving because the manager went away. Called from the main thread only
/// (start, reload, stop), never from a worker loop: sd_notify() may block
/// briefly when the manager's queue is full.
void sdNotify(std::string_view state);

/// As sdNotify(), but says what happened: true when a datagram was sent,
/// false when $NOTIFY_SOCKET is unset or empty; an error naming the socket
/// and the cause when libsystemd failed (unusable name, nobody listening).
Result<bool> sdNotifyChecked(std::string_view state);

/// The state to send when a reload starts: "RELOADING=1" plus
/// "MONOTONIC_USEC=<CLOCK_MONOTONIC now in µs>", which systemd >= 253 uses to
/// match the reload with the SIGHUP it sent (Type=notify-reload). Older
/// managers ignore the second line. Send "READY=1" when the reload is done.
std::string reloadingState();

}  // namespace portcullis::os
