// The error page a client sees: escaped, self-contained, naming the rule but
// never the config file's path or line; the admin's template when set.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "daemon/config/config.h"
#include "daemon/config/error_pages.h"
#include "daemon/proxy/error_page.h"

using namespace portcullis;
using proxy::ErrorReply;
using proxy::renderErrorResponse;

namespace {
ErrorReply denial() {
  ErrorReply e;
  e.status = 403;
  e.proxyStatusError = "http_request_denied";
  e.title = "Access denied";
  e.message = "<script>alert(1)</script>";
  e.rule = "no-\"quotes\"";
  return e;
}

std::string bodyOf(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}
}  // namespace

TEST_CASE("error pages escape and carry Proxy-Status with the rule's name only") {
  const ErrorReply e = denial();
  auto out = renderErrorResponse(e, nullptr, true);
  CHECK(out.rfind("HTTP/1.1 403 Forbidden\r\n", 0) == 0);
  CHECK(out.find("<script>") == std::string::npos);
  CHECK(out.find("&lt;script&gt;") != std::string::npos);
  CHECK(out.find("Proxy-Status: portcullis; error=http_request_denied; "
                 "details=\"rule no-\\\"quotes\\\"\"\r\n") != std::string::npos);
  CHECK(out.find("<code>no-&quot;quotes&quot;</code>") != std::string::npos);
  CHECK(out.find("Content-Security-Policy: default-src 'none'") != std::string::npos);
  auto headOnly = renderErrorResponse(e, nullptr, true, true);
  CHECK(headOnly.find("<html") == std::string::npos);
  auto lengthAt = out.find("Content-Length: ");
  REQUIRE(lengthAt != std::string::npos);
  CHECK(std::stoul(out.substr(lengthAt + 16)) == bodyOf(out).size());
}

TEST_CASE("the built-in page says each thing once and shows contact and organisation") {
  auto cfg = std::make_shared<config::Config>();
  cfg->server.viaPseudonym = "gate";
  cfg->server.errorContact = "Ask the IT office <room 12>";
  cfg->server.organisation = "St Mary's";
  ErrorReply e = denial();
  e.message = "The proxy's access rules do not allow this request.";
  const std::string body = bodyOf(renderErrorResponse(e, cfg.get(), true));
  CAPTURE(body);
  auto count = [&body](std::string_view what) {
    size_t n = 0;
    for (size_t at = body.find(what); at != std::string::npos; at = body.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count("access rules do not allow") == 1);
  CHECK(count("no-&quot;quotes&quot;") == 1);
  CHECK(count("Access denied") == 2);  // <title> and <h1>
  CHECK(count("Ask the IT office &lt;room 12&gt;") == 1);
  CHECK(count("St Mary&#39;s") == 1);
  CHECK(count("gate") == 1);
  // Self-contained: nothing for the browser to fetch.
  CHECK(body.find("http://") == std::string::npos);
  CHECK(body.find("https://") == std::string::npos);
  CHECK(body.find("src=") == std::string::npos);
  CHECK(body.find("<link") == std::string::npos);
}

TEST_CASE("an admin's template replaces the page; every placeholder is escaped") {
  auto pages = std::make_shared<config::ErrorPages>();
  config::PageTemplate::Problem problem;
  pages->page = config::PageTemplate::compile(
      "<b>{{status}} {{reason}}</b>|{{title}}|{{message}}|{{rule}}|{{contact}}|{{organisation}}|"
      "{{proxy}}",
      config::errorPagePlaceholders(), problem);
  pages->byStatus[502] = config::PageTemplate::compile("bad gateway {{title}}",
                                                       config::errorPagePlaceholders(), problem);
  REQUIRE(problem.line == 0);
  auto cfg = std::make_shared<config::Config>();
  cfg->server.viaPseudonym = "p<x>";
  cfg->server.errorContact = "c&d";
  cfg->server.organisation = "o\"o";
  cfg->server.errorPages = pages;
  const ErrorReply e = denial();
  CHECK(bodyOf(renderErrorResponse(e, cfg.get(), false)) ==
        "<b>403 Forbidden</b>|Access denied|&lt;script&gt;alert(1)&lt;/script&gt;|"
        "no-&quot;quotes&quot;|c&amp;d|o&quot;o|p&lt;x&gt;");
  ErrorReply gateway;
  gateway.status = 502;
  gateway.title = "<Bad>";
  CHECK(bodyOf(renderErrorResponse(gateway, cfg.get(), false)) == "bad gateway &lt;Bad&gt;");
}
