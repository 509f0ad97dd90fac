#include "daemon/net/evbuffer_pieces.h"

#include <doctest/doctest.h>

#include <string>

#include "daemon/base/unique_handle.h"

namespace portcullis::net {
namespace {

// A chain of several pieces: evbuffer_add_reference keeps each one its own piece.
struct ChainedBuffer {
  UniqueHandle<evbuffer, evbuffer_free> buffer{evbuffer_new()};
  explicit ChainedBuffer(std::initializer_list<std::string_view> parts) {
    for (std::string_view part : parts) {
      evbuffer_add_reference(buffer.get(), part.data(), part.size(), nullptr, nullptr);
    }
  }
};

TEST_CASE(
    "forEachPeekedPiece visits the first n bytes in order, piece by piece, draining nothing") {
  ChainedBuffer chain({"abc", "defg", "hi"});
  std::string seen;
  int calls = 0;
  CHECK(forEachPeekedPiece(chain.buffer.get(), 6, [&](std::string_view piece) {
    seen += piece;
    ++calls;
    return true;
  }));
  CHECK(seen == "abcdef");
  CHECK(calls == 2);
  CHECK(evbuffer_get_length(chain.buffer.get()) == 9);
}

TEST_CASE("forEachPeekedPiece stops at the first visit that returns false") {
  ChainedBuffer chain({"abc", "defg", "hi"});
  std::string seen;
  CHECK_FALSE(forEachPeekedPiece(chain.buffer.get(), 9, [&](std::string_view piece) {
    seen += piece;
    return piece != "defg";
  }));
  CHECK(seen == "abcdefg");
}

TEST_CASE("forEachPeekedPiece on fewer bytes than asked, or none, visits what is there") {
  ChainedBuffer chain({"ab"});
  std::string seen;
  CHECK(forEachPeekedPiece(chain.buffer.get(), 100, [&](std::string_view piece) {
    seen += piece;
    return true;
  }));
  CHECK(seen == "ab");
  ChainedBuffer empty({});
  CHECK(forEachPeekedPiece(empty.buffer.get(), 10, [&](std::string_view) { return false; }));
}

}  // namespace
}  // namespace portcullis::net
