#pragma once
// The systemd readiness protocol (sd_notify(3)), written out by hand so that
// Portcullis needs no libsystemd: one datagram of newline-separated
// "KEY=VALUE" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET.

#include <string>
#include <string_view>

#include "daemon/base/result.h"

namespace portcullis::os {

/// Sends `state` (e.g. "READY=1", "STOPPING=1", "STATUS=serving") to the
/// service manager named by $NOTIFY_SOCKET. A no-op when the variable is unset
/// or empty (not started by systemd, or not Type=notify). Failures are ignored
/// on purpose, as libsystemd's sd_notify() callers usually do: the daemon must
/// not stop serving because the manager went away. Thread-safe; blocks for at
/// most one non-blocking sendto().
void sdNotify(std::string_view state);

/// Sends `state` as one datagram to the notification socket `socketName`,
/// spelled as in $NOTIFY_SOCKET: an absolute path ("/run/systemd/notify") or
/// an abstract-namespace name starting with '@' ("@/org/.../notify").
/// Returns an error naming the cause (bad name, socket(), sendto()).
Result<void> sdNotifyTo(std::string_view socketName, std::string_view state);

/// The state to send when a reload starts: "RELOADING=1" plus
/// "MONOTONIC_USEC=<CLOCK_MONOTONIC now in µs>", which systemd >= 253 uses to
/// match the reload with the SIGHUP it sent (Type=notify-reload). Older
/// managers ignore the second line. Send "READY=1" when the reload is done.
std::string reloadingState();

}  // namespace portcullis::os
