#pragma once
// RAII for C handles: wrap every handle the moment it is created.

#include <memory>

namespace portcullis {

/// Deleter that calls a C free function given as a template argument, e.g.
/// `UniqueHandle<event_base, event_base_free>`.
template <class T, auto FreeFn>
struct CFreeDeleter {
  void operator()(T* p) const noexcept {
    if (p != nullptr) FreeFn(p);
  }
};

template <class T, auto FreeFn>
using UniqueHandle = std::unique_ptr<T, CFreeDeleter<T, FreeFn>>;

/// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace portcullis
