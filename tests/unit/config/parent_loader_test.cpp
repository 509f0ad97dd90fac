#include "daemon/config/parent_loader.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "daemon/config/config_loader.h"
#include "loader_test_util.h"

using namespace portcullis::config;
using portcullis::config::testing::all;
using portcullis::config::testing::kPolicy;

namespace {

bool has(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("base64Encode: RFC 4648 test vectors") {
  CHECK(base64Encode("") == "");
  CHECK(base64Encode("f") == "Zg==");
  CHECK(base64Encode("fo") == "Zm8=");
  CHECK(base64Encode("foo") == "Zm9v");
  CHECK(base64Encode("foob") == "Zm9vYg==");
  CHECK(base64Encode("fooba") == "Zm9vYmE=");
  CHECK(base64Encode("foobar") == "Zm9vYmFy");
  // RFC 7617 §2's example.
  CHECK(base64Encode("Aladdin:open sesame") == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST_CASE("[[parent]] and [parents]: defaults and values") {
  auto none = loadConfigText(kPolicy, "t.toml", ".");
  REQUIRE(none.config);
  CHECK(none.config->parents.list.empty());
  CHECK_FALSE(none.config->parents.neverDirect);
  CHECK(none.config->parents.retryAfter.count() == 30000);
  CHECK(none.config->parents.checkInterval.count() == 10000);

  const std::string dir = "/tmp";
  const std::string pass = dir + "/portcullis-parent-loader-test.pass";
  std::ofstream(pass) << "open sesame\r\nsecond line\n";
  auto set = loadConfigText(kPolicy +
                                "[[parent]]\nname = \"a\"\naddress = \"192.0.2.1:3128\"\n"
                                "weight = 3\nto = [\"web\"]\n"
                                "[[parent]]\nname = \"b\"\naddress = \"[2001:db8::1]:8080\"\n"
                                "username = \"Aladdin\"\npassword_file = \"" +
                                pass +
                                "\"\n[parents]\nnever_direct = true\nretry_after = \"5s\"\n"
                                "check_interval = \"0s\"\n",
                            "t.toml", dir);
  std::remove(pass.c_str());
  REQUIRE_MESSAGE(set.config, all(set));
  const auto& p = set.config->parents;
  REQUIRE(p.list.size() == 2);
  CHECK(p.list[0].name == "a");
  CHECK(p.list[0].host == "192.0.2.1");
  CHECK(p.list[0].port == 3128);
  CHECK(p.list[0].weight == 3);
  CHECK(p.list[0].to == std::vector<size_t>{0});
  CHECK(p.list[0].authorization.empty());
  CHECK(p.list[1].host == "2001:db8::1");
  CHECK(p.list[1].weight == 1);
  CHECK(p.list[1].to.empty());
  CHECK(p.list[1].authorization == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  CHECK(p.neverDirect);
  CHECK(p.retryAfter.count() == 5000);
  CHECK(p.checkInterval.count() == 0);
  // Credentials to a parent off loopback travel in clear text: a warning.
  CHECK(has(all(set), "clear text"));
}

TEST_CASE("[[parent]] errors are all reported, each at its place") {
  auto bad = loadConfigText(kPolicy +
                                "[[parent]]\naddress = \"192.0.2.1:3128\"\n"
                                "[[parent]]\nname = \"x\"\naddress = \"proxy..example:3128\"\n"
                                "[[parent]]\nname = \"x\"\naddress = \"192.0.2.1:25\"\n"
                                "weight = 0\nto = [\"nowhere\"]\nusername = \"u\"\n"
                                "[[parent]]\nname = \"y\"\naddress = \"192.0.2.2:3128\"\n"
                                "username = \"u\"\npassword_file = \"/nonexistent/pass\"\n"
                                "[[parent]]\nname = \"z\"\n",
                            "t.toml", ".");
  CHECK_FALSE(bad.config);
  const std::string text = all(bad);
  CAPTURE(text);
  // kPolicy is 6 lines: the first [[parent]] is on line 7.
  CHECK(has(text, "t.toml:7:1: error: [[parent]] needs 'name'"));
  CHECK(has(text, "t.toml:11:11: error: 'address'"));
  CHECK(has(text, "a [[parent]] named 'x' is already defined"));
  CHECK(has(text, "port 25 (SMTP) is never a parent proxy"));
  CHECK(has(text, "'weight' must be between 1 and 1000"));
  CHECK(has(text, "'to' names 'nowhere', which is not a destination set"));
  CHECK(has(text, "'username' and 'password_file' go together"));
  CHECK(has(text, "'password_file': cannot open '/nonexistent/pass'"));
  CHECK(has(text, "[[parent]] needs 'address'"));
}

TEST_CASE("[[parent]] tls, tls_ca, tls_name") {
  const std::string dir = "/tmp";
  const std::string ca = dir + "/portcullis-parent-loader-test.ca";
  const std::string pass = dir + "/portcullis-parent-loader-test.pass2";
  std::ofstream(ca) << "not checked here: loaded when the config is applied\n";
  std::ofstream(pass) << "secret\n";
  auto set = loadConfigText(kPolicy +
                                "[[parent]]\nname = \"a\"\naddress = \"192.0.2.1:3129\"\n"
                                "tls = true\ntls_ca = \"portcullis-parent-loader-test.ca\"\n"
                                "tls_name = \"proxy.example\"\n"
                                "username = \"u\"\npassword_file = \"" +
                                pass +
                                "\"\n"
                                "[[parent]]\nname = \"b\"\naddress = \"192.0.2.2:3129\"\n"
                                "tls = true\n"
                                "[[parent]]\nname = \"c\"\naddress = \"192.0.2.3:3128\"\n",
                            "t.toml", dir);
  std::remove(pass.c_str());
  std::remove(ca.c_str());
  REQUIRE_MESSAGE(set.config, all(set));
  const auto& p = set.config->parents.list;
  REQUIRE(p.size() == 3);
  CHECK(p[0].tls);
  CHECK(p[0].tlsCa == ca);  // relative to the config file
  CHECK(p[0].tlsName == "proxy.example");
  // Defaults: the system trust store, the address' IP as the name.
  CHECK(p[1].tls);
  CHECK(p[1].tlsCa.empty());
  CHECK(p[1].tlsName == "192.0.2.2");
  CHECK_FALSE(p[2].tls);
  // Credentials inside TLS: no clear-text warning.
  CHECK_FALSE(has(all(set), "clear text"));

  auto bad = loadConfigText(kPolicy +
                                "[[parent]]\nname = \"a\"\naddress = \"192.0.2.1:3129\"\n"
                                "tls = true\ntls_ca = \"/nonexistent/ca.pem\"\n"
                                "[[parent]]\nname = \"b\"\naddress = \"192.0.2.2:3128\"\n"
                                "tls_name = \"proxy.example\"\ntls_ca = \"ca.pem\"\n",
                            "t.toml", dir);
  CHECK_FALSE(bad.config);
  const std::string text = all(bad);
  CAPTURE(text);
  CHECK(has(text, "t.toml:11:10: error: 'tls_ca': cannot open '/nonexistent/ca.pem'"));
  CHECK(has(text, "t.toml:15:12: error: 'tls_name' needs 'tls = true'"));
  CHECK(has(text, "t.toml:16:10: error: 'tls_ca' needs 'tls = true'"));
}

TEST_CASE("[[parent]] address given as a name") {
  auto set =
      loadConfigText(kPolicy +
                         "[[parent]]\nname = \"a\"\naddress = \"Proxy.District.example:3128\"\n"
                         "[[parent]]\nname = \"b\"\naddress = \"[2001:db8::1]:8080\"\n"
                         "[[parent]]\nname = \"c\"\naddress = \"filter.example:3130\"\n"
                         "tls = true\n"
                         "[[parent]]\nname = \"d\"\naddress = \"localhost:3128\"\n",
                     "t.toml", ".");
  REQUIRE_MESSAGE(set.config, all(set));
  const auto& p = set.config->parents.list;
  REQUIRE(p.size() == 4);
  // Not resolved at load (validate needs no DNS): kept as a lower-case name.
  CHECK(p[0].host == "proxy.district.example");
  CHECK(p[0].port == 3128);
  CHECK(p[0].hostIsName);
  CHECK(p[0].address == "Proxy.District.example:3128");
  CHECK(p[1].host == "2001:db8::1");
  CHECK_FALSE(p[1].hostIsName);
  // TLS to a parent given by name: its certificate must carry that name.
  CHECK(p[2].tlsName == "filter.example");
  CHECK(p[3].hostIsName);
  CHECK(set.diagnostics.empty());

  auto bad = loadConfigText(kPolicy +
                                "[[parent]]\nname = \"a\"\naddress = \"proxy.example\"\n"
                                "[[parent]]\nname = \"b\"\naddress = \"proxy.example:25\"\n"
                                "[[parent]]\nname = \"c\"\naddress = \"proxy.example:0\"\n"
                                "[[parent]]\nname = \"d\"\naddress = \"proxy.example:65536\"\n"
                                "[[parent]]\nname = \"e\"\naddress = \"bad_name!.example:3128\"\n"
                                "[[parent]]\nname = \"f\"\naddress = \"proxy.example.123:3128\"\n"
                                "[[parent]]\nname = \"g\"\naddress = \"user@proxy.example:3128\"\n",
                            "t.toml", ".");
  CHECK_FALSE(bad.config);
  const std::string text = all(bad);
  CAPTURE(text);
  // kPolicy is 6 lines: the first [[parent]] is on line 7, its address on 9.
  for (int line = 9; line <= 27; line += 3) {
    CHECK(has(text, "t.toml:" + std::to_string(line) + ":11: error: 'address': "));
  }
  CHECK(has(text, "t.toml:12:11: error: 'address': port 25 (SMTP) is never a parent proxy"));
  CHECK(has(text, "(write the parent's \"name:port\", \"IPv4:port\" or \"[IPv6]:port\")"));
}

TEST_CASE("[[parent]] at one of the proxy's own listen addresses is refused (hard:self)") {
  const std::string listen = "[server]\nlisten = [\"127.0.0.1:3128\", \"0.0.0.0:8080\"]\n";
  auto bad = loadConfigText(listen + kPolicy +
                                "[[parent]]\nname = \"a\"\naddress = \"127.0.0.1:3128\"\n"
                                "[[parent]]\nname = \"b\"\naddress = \"127.0.0.2:8080\"\n"
                                "[[parent]]\nname = \"c\"\naddress = \"127.0.0.1:3129\"\n",
                            "t.toml", ".");
  CHECK_FALSE(bad.config);
  const std::string text = all(bad);
  CAPTURE(text);
  CHECK(has(text,
            "t.toml:11:11: error: 'address': 127.0.0.1:3128 is the proxy's own listen "
            "address: requests would come back to it (hard:self)"));
  // 0.0.0.0:8080 answers on every local address; [admin] listen (default
  // 127.0.0.1:3129) is ours too.
  CHECK(has(text, "t.toml:14:11: error: 'address': 127.0.0.2:8080 is the proxy's own"));
  CHECK(has(text, "t.toml:17:11: error: 'address': 127.0.0.1:3129 is the proxy's own"));

  // Loopback and private addresses are fine for a parent (the admin named
  // it), as is our own address on another port; a name is checked when it
  // is resolved, not here.
  auto good = loadConfigText(listen + kPolicy +
                                 "[[parent]]\nname = \"a\"\naddress = \"127.0.0.1:3130\"\n"
                                 "[[parent]]\nname = \"b\"\naddress = \"10.1.2.3:3128\"\n"
                                 "[[parent]]\nname = \"c\"\naddress = \"localhost:3128\"\n",
                             "t.toml", ".");
  CHECK_MESSAGE(good.config, all(good));
}
