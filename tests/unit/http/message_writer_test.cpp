#include "daemon/http/message_writer.h"

#include <doctest/doctest.h>

#include "daemon/http/head_parser.h"

using namespace portcullis::http;

TEST_CASE("writeRequestHead appends a head the parser accepts") {
  HeaderMap h;
  h.add("Host", "a.example");
  h.add("X-Empty", "");
  std::string out = "prefix";
  writeRequestHead(out, "GET", "/p?q", h);
  CHECK(out == "prefixGET /p?q HTTP/1.1\r\nHost: a.example\r\nX-Empty: \r\n\r\n");
  RequestHead parsed;
  const ParseOutcome o = parseRequestHead(std::string_view(out).substr(6), ParseLimits{}, parsed);
  REQUIRE(o.status == ParseStatus::kDone);
  CHECK(parsed.headers.get("X-Empty") == "");
}

TEST_CASE("writeResponseHead") {
  HeaderMap h;
  h.add("Content-Length", "0");
  std::string out;
  writeResponseHead(out, 404, reasonPhrase(404), h);
  CHECK(out == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  out.clear();
  writeResponseHead(out, 299, reasonPhrase(299), HeaderMap{});
  CHECK(out == "HTTP/1.1 299 \r\n\r\n");  // SP kept before an empty reason (RFC 9112 §4)
  ResponseHead parsed;
  REQUIRE(parseResponseHead(out, ParseLimits{}, parsed).status == ParseStatus::kDone);
  CHECK(parsed.status == 299);
}

TEST_CASE("reasonPhrase") {
  struct Row {
    int status;
    const char* reason;
  };
  const Row rows[] = {{100, "Continue"},
                      {200, "OK"},
                      {204, "No Content"},
                      {304, "Not Modified"},
                      {400, "Bad Request"},
                      {403, "Forbidden"},
                      {407, "Proxy Authentication Required"},
                      {413, "Content Too Large"},
                      {414, "URI Too Long"},
                      {431, "Request Header Fields Too Large"},
                      {501, "Not Implemented"},
                      {502, "Bad Gateway"},
                      {504, "Gateway Timeout"},
                      {505, "HTTP Version Not Supported"},
                      {299, ""},
                      {0, ""}};
  for (const Row& r : rows) {
    CHECK(reasonPhrase(r.status) == r.reason);
  }
}

TEST_CASE("removeHopByHopFields") {
  HeaderMap h;
  h.add("Host", "a");
  h.add("Connection", "X-Custom, close");
  h.add("connection", "X-Other , Content-Length, Host");
  h.add("X-Custom", "1");
  h.add("x-other", "2");
  h.add("Proxy-Connection", "keep-alive");
  h.add("Keep-Alive", "timeout=5");
  h.add("TE", "trailers");
  h.add("Trailer", "X");
  h.add("Transfer-Encoding", "chunked");
  h.add("Upgrade", "websocket");
  h.add("Proxy-Authorization", "Basic x");
  h.add("Proxy-Authenticate", "Basic");
  h.add("Content-Length", "3");
  h.add("Authorization", "Bearer y");
  h.add("X-Keep", "3");
  removeHopByHopFields(h);
  REQUIRE(h.size() == 4);
  CHECK(h.fields()[0].name == "Host");
  CHECK(h.fields()[1].name == "Content-Length");
  CHECK(h.fields()[2].name == "Authorization");
  CHECK(h.fields()[3].name == "X-Keep");
}
