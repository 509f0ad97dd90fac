// PidLock: the lock, not the file, says whether the holder lives. flock(2)
// locks belong to an open file description, so a second open in this process
// sees the first one's lock exactly as another process would.

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/os/pid_lock.h"

namespace os = portcullis::os;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/pc-pidlock-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("PidLock: held, refused to a second taker, stale after release") {
  TempDir dir;
  const std::string path = (dir.path / "x.pid").string();
  const std::string me = std::to_string(::getpid());

  auto none = os::PidLock::holder(path);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());  // no file at all

  auto lock = os::PidLock::acquire(path);
  REQUIRE_MESSAGE(lock.ok(), lock.error().message);
  CHECK(slurp(path) == me + "\n");
  auto held = os::PidLock::holder(path);
  REQUIRE(held.ok());
  REQUIRE(held->has_value());
  CHECK(**held == ::getpid());

  auto second = os::PidLock::acquire(path);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message == path + " is locked by process " + me);
  CHECK(slurp(path) == me + "\n");  // the refused taker wrote nothing

  SUBCASE("release keeps the file, which is then stale") {
    lock->release(false);
    CHECK(std::filesystem::exists(path));
    auto stale = os::PidLock::holder(path);
    REQUIRE(stale.ok());
    CHECK_FALSE(stale->has_value());
    auto again = os::PidLock::acquire(path);
    CHECK(again.ok());
  }
  SUBCASE("release with unlink removes our file, never a replacement") {
    std::filesystem::rename(path, path + ".old");
    std::ofstream(path) << "12345\n";
    lock->release(true);
    CHECK(slurp(path) == "12345\n");
  }
  SUBCASE("release with unlink removes our own file") {
    lock->release(true);
    CHECK_FALSE(std::filesystem::exists(path));
  }
}

TEST_CASE("PidLock::acquire names the path when it cannot open the file") {
  auto r = os::PidLock::acquire("/nonexistent-dir-for-pc-test/x.pid");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("/nonexistent-dir-for-pc-test/x.pid") != std::string::npos);
}
