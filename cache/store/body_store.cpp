#include "cache/store/body_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace portcullis::cache {
namespace {

std::string errnoText(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

Result<void> ensureDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return makeError(errnoText("mkdir", path));
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool parseHex16(std::string_view s, uint64_t& out) {
  if (s.size() != 16) return false;
  out = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    out = (out << 4) | static_cast<uint64_t>(d);
  }
  return true;
}

}  // namespace

BodyStore::BodyStore(std::string dir) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

Result<void> BodyStore::prepare() {
  if (auto r = ensureDir(dir_); !r) return r;
  if (auto r = ensureDir(dir_ + "/objects"); !r) return r;
  for (int i = 0; i < 256; ++i) {
    char shard[8];
    std::snprintf(shard, sizeof shard, "%02x", i);
    if (auto r = ensureDir(dir_ + "/objects/" + shard); !r) return r;
  }
  const std::string tmp = dir_ + "/tmp";
  struct stat st {};
  if (::stat(tmp.c_str(), &st) == 0) {
    // A previous run's partial bodies: set aside now, delete in the background.
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    const std::string stale = dir_ + "/tmp-stale-" + std::to_string(::getpid()) + "-" + std::to_string(stamp);
    if (::rename(tmp.c_str(), stale.c_str()) != 0) return makeError(errnoText("rename", tmp));
  }
  return ensureDir(tmp);
}

void BodyStore::removeStaleTemp() const {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    if (e.path().filename().string().rfind("tmp-stale-", 0) == 0) {
      std::filesystem::remove_all(e.path(), ec);
    }
  }
}

std::string BodyStore::relativeBodyPath(uint64_t keyHash, uint64_t id) {
  const std::string h = hex16(keyHash);
  return "objects/" + h.substr(0, 2) + "/" + h + "-" + hex16(id);
}

bool BodyStore::parseBodyName(std::string_view name, uint64_t& keyHash, uint64_t& id) {
  return name.size() == 33 && name[16] == '-' && parseHex16(name.substr(0, 16), keyHash) &&
         parseHex16(name.substr(17), id);
}

std::string BodyStore::tempPath(uint64_t id) const { return dir_ + "/tmp/" + hex16(id) + ".part"; }

Result<UniqueFd> BodyStore::createTemp(const std::string& path) const {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return makeStorageError(errnoText("create", path));
  return UniqueFd(fd);
}

Result<void> BodyStore::writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeStorageError(std::string("write: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> BodyStore::publish(int fd, const std::string& tempPath, const std::string& relative,
                                FsyncPolicy policy) const {
  if (policy != FsyncPolicy::kNone && ::fsync(fd) != 0) return makeStorageError(errnoText("fsync", tempPath));
  const std::string target = absolute(relative);
  if (::rename(tempPath.c_str(), target.c_str()) != 0) return makeStorageError(errnoText("rename", tempPath));
  if (policy == FsyncPolicy::kFull) {
    const std::string shard = target.substr(0, target.rfind('/'));
    UniqueFd dfd(::open(shard.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd.valid() || ::fsync(dfd.get()) != 0) return makeStorageError(errnoText("fsync", shard));
  }
  return {};
}

void BodyStore::removeBody(const std::string& relative) const {
  ::unlink(absolute(relative).c_str());  // ENOENT is fine: already gone
}

Result<uint64_t> BodyStore::freeBytes() const {
  struct statvfs vfs {};
  if (::statvfs(dir_.c_str(), &vfs) != 0) return makeStorageError(errnoText("statvfs", dir_));
  return static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
}

void BodyStore::scanShards(const std::function<void(const std::string&, const std::vector<std::string>&)>& visit) const {
  std::vector<std::string> names;
  for (int i = 0; i < 256; ++i) {
    char shard[8];
    std::snprintf(shard, sizeof shard, "%02x", i);
    const std::string path = dir_ + "/objects/" + shard;
    names.clear();
    if (UniqueHandle<DIR, ::closedir> d{::opendir(path.c_str())}) {
      while (dirent* e = ::readdir(d.get())) {
        if (e->d_name[0] == '.') continue;
        names.emplace_back(e->d_name);
      }
    }
    visit(std::string("objects/") + shard, names);
  }
}

}  // namespace portcullis::cache
