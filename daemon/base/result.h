#pragma once
// Errors as values on the data path (g++ 12 has no std::expected).

#include <string>
#include <utility>
#include <variant>

namespace portcullis {

/// What went wrong, in words for a person, plus the HTTP status to answer
/// with when the error ends a client transaction (0 when not applicable).
struct Error {
  enum class Kind {
    kGeneric,
    kStorage,  ///< the local disk failed or is full (not: what the data is)
  };
  std::string message;
  int status = 0;
  Kind kind = Kind::kGeneric;
};

/// Either a value or an Error. Cheap to move; never throws on access misuse
/// in release builds is not promised: check ok() first.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}            // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing but may fail.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

/// An error of the local storage (disk full, I/O error), which callers may
/// treat differently from a refusal of the data itself.
inline Error makeStorageError(std::string message) {
  Error e;
  e.message = std::move(message);
  e.kind = Error::Kind::kStorage;
  return e;
}

inline Error makeError(std::string message, int status = 0) {
  return Error{std::move(message), status};
}

}  // namespace portcullis
