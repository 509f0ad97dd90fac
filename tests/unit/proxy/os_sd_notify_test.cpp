// sd_notify protocol (through libsystemd): datagrams really arrive on an
// AF_UNIX socket bound by the test, for both filesystem and abstract ('@')
// socket names, named by $NOTIFY_SOCKET as systemd names it.

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/base/unique_handle.h"
#include "daemon/os/sd_notify.h"

using portcullis::UniqueFd;
namespace os = portcullis::os;

namespace {

/// A bound datagram socket standing in for systemd's notify socket.
/// `name` is spelled the way $NOTIFY_SOCKET spells it.
struct FakeManager {
  UniqueFd fd;
  std::string name;
  std::string dir;  // temp dir holding a filesystem socket; removed on exit

  ~FakeManager() {
    if (!dir.empty()) {
      ::unlink(name.c_str());
      ::rmdir(dir.c_str());
    }
  }

  /// Returns the next datagram, or "<none>" when nothing is queued. A local
  /// AF_UNIX sendto() queues the datagram before it returns, so no wait.
  std::string receive() const {
    char buf[4096];
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return "<none>";
    return std::string(buf, static_cast<size_t>(n));
  }
};

void bindTo(FakeManager& m, const sockaddr_un& addr, socklen_t len) {
  m.fd = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(m.fd.valid());
  REQUIRE(::bind(m.fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0);
}

void makePathManager(FakeManager& m) {
  char tmpl[] = "/tmp/pc-notify-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  m.dir = tmpl;
  m.name = m.dir + "/notify";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, m.name.c_str(), m.name.size() + 1);
  bindTo(m, addr, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m.name.size() + 1));
}

void makeAbstractManager(FakeManager& m) {
  static int counter = 0;
  const std::string id =
      "portcullis-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  m.name = "@" + id;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, id.data(), id.size());  // sun_path[0] stays NUL
  bindTo(m, addr, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + id.size()));
}

unsigned long long monotonicUsec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<unsigned long long>(ts.tv_sec) * 1000000ull +
         static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
}

}  // namespace

/// Points $NOTIFY_SOCKET at `name` for one scope (the tests run on one thread).
struct NotifySocketEnv {
  explicit NotifySocketEnv(const std::string& name) {
    REQUIRE(::setenv("NOTIFY_SOCKET", name.c_str(), 1) == 0);
  }
  ~NotifySocketEnv() { ::unsetenv("NOTIFY_SOCKET"); }
};

TEST_CASE("sdNotifyChecked delivers one datagram per state to path and abstract sockets") {
  FakeManager m;
  SUBCASE("filesystem path") {
    makePathManager(m);
  }
  SUBCASE("abstract name starting with @") {
    makeAbstractManager(m);
  }
  NotifySocketEnv env(m.name);

  const char* states[] = {"READY=1", "STOPPING=1", "STATUS=serving 2 listeners",
                          "RELOADING=1\nMONOTONIC_USEC=12345"};
  for (const char* state : states) {
    CAPTURE(state);
    auto r = os::sdNotifyChecked(state);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(*r);
    CHECK(m.receive() == state);
  }
  CHECK(m.receive() == "<none>");
}

TEST_CASE("sdNotifyChecked rejects names it cannot use") {
  const std::string tooLong = "/" + std::string(sizeof(sockaddr_un::sun_path), 'a');
  const char* names[] = {"/", "relative/notify"};
  for (const std::string& name : {std::string(names[0]), std::string(names[1]), tooLong}) {
    CAPTURE(name);
    NotifySocketEnv env(name);
    CHECK_FALSE(os::sdNotifyChecked("READY=1").ok());
  }
}

TEST_CASE("sdNotifyChecked reports a socket nobody listens on") {
  FakeManager m;
  makePathManager(m);
  const std::string missing = m.dir + "/nobody-here";
  NotifySocketEnv env(missing);
  auto r = os::sdNotifyChecked("READY=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("nobody-here") != std::string::npos);
}

TEST_CASE("sdNotify follows $NOTIFY_SOCKET and is a no-op without it") {
  FakeManager m;
  SUBCASE("filesystem path") {
    makePathManager(m);
  }
  SUBCASE("abstract name") {
    makeAbstractManager(m);
  }

  REQUIRE(::setenv("NOTIFY_SOCKET", m.name.c_str(), 1) == 0);
  os::sdNotify("READY=1");
  CHECK(m.receive() == "READY=1");

  REQUIRE(::setenv("NOTIFY_SOCKET", "", 1) == 0);
  os::sdNotify("STOPPING=1");
  CHECK(m.receive() == "<none>");

  REQUIRE(::unsetenv("NOTIFY_SOCKET") == 0);
  os::sdNotify("STOPPING=1");
  CHECK(m.receive() == "<none>");
  auto r = os::sdNotifyChecked("STOPPING=1");
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
}

TEST_CASE("reloadingState carries RELOADING=1 and the monotonic clock in microseconds") {
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  const unsigned long long before = monotonicUsec();
  const std::string state = os::reloadingState();
  const unsigned long long after = monotonicUsec();
  REQUIRE(state.rfind(prefix, 0) == 0);
  const std::string digits = state.substr(prefix.size());
  REQUIRE_FALSE(digits.empty());
  CHECK(digits.find_first_not_of("0123456789") == std::string::npos);
  const unsigned long long usec = std::stoull(digits);
  CHECK(usec >= before);
  CHECK(usec <= after);
}
