// Every diagnostic the loader can give, with the line and column it points at.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/config/config_loader.h"
#include "tests/unit/config/loader_test_util.h"

using namespace portcullis::config;
using namespace portcullis::config::testing;

namespace {
struct Case {
  const char* name;
  std::string text;
  std::string expect;  // a substring of one formatted diagnostic: "t.toml:L:C: error: ..."
  bool fatal = true;   // the config must be refused
};
}  // namespace

TEST_CASE("each diagnostic names file:line:col") {
  const Case cases[] = {
      {"toml syntax", "[server\nlisten = 1\n", "t.toml:1:8: error: "},
      {"unknown top-level key", "bogus = 1\n" + kPolicy,
       "t.toml:1:1: error: unknown key 'bogus' at the top level"},
      {"unknown key with hint", "[server]\nworkerz = 2\n" + kPolicy,
       "t.toml:2:1: error: unknown key 'workerz' in [server]; did you mean 'workers'?"},
      {"unknown key in a destination set",
       "[destinations]\nweb = { hosts = [\"*\"], port = [80] }\n",
       "t.toml:2:24: error: unknown key 'port' in [destinations.<name>]; did you mean 'ports'?"},
      {"unknown key in a rule",
       kPolicy + "[[rule]]\nallow = { from = \"lan\", to = \"web\", too = 1 }\n",
       "t.toml:8:37: error: unknown key 'too' in [rule.allow]"},
      {"wrong type", "[server]\nmax_connections = \"many\"\n" + kPolicy,
       "t.toml:2:19: error: 'max_connections' must be an integer, not a string"},
      {"out of range", "[server]\nworkers = 0\n" + kPolicy,
       "t.toml:2:11: error: 'workers' must be between 1 and 1024, not 0"},
      {"bad duration", "[server]\nheader_timeout = \"10 parsecs\"\n" + kPolicy,
       "t.toml:2:18: error: 'header_timeout': '10 parsecs' has no valid unit"},
      {"duration as integer", "[server]\nheader_timeout = 10\n" + kPolicy,
       "t.toml:2:18: error: 'header_timeout' must be a duration string"},
      {"bad size", "[server]\nbuffer_size = \"lots\"\n" + kPolicy,
       "t.toml:2:15: error: 'buffer_size': 'lots' is not a size"},
      {"size without a unit", "[cache]\nmax_size = 10\n" + kPolicy,
       "t.toml:2:12: error: 'max_size' = 10: size needs a unit: write \"10 GiB\" (or \"10 B\" for "
       "bytes)"},
      {"size string without a unit", "[server]\nbuffer_size = \"256\"\n" + kPolicy,
       "t.toml:2:15: error: 'buffer_size' = \"256\": size needs a unit: write \"256 KiB\" (or "
       "\"256 B\" for bytes)"},
      {"unquoted size", "[cache]\nmax_size = 10 GiB\n" + kPolicy,
       "t.toml:2:15: error: invalid TOML while parsing key-value pair: expected a comment or "
       "whitespace, saw 'G'; sizes and durations are strings: max_size = \"10 GiB\""},
      {"unquoted duration", "[server]\nheader_timeout = 30s   # comment\n" + kPolicy,
       "; sizes and durations are strings: header_timeout = \"30s\""},
      {"unquoted text", "[cache]\ndir = /var/cache/portcullis\n" + kPolicy,
       "t.toml:2:7: error: invalid TOML while parsing value: could not determine value type; "
       "text values are strings in quotes: dir = \"/var/cache/portcullis\""},
      {"slice too small", "[cache]\nslice_size = \"4 KiB\"\n" + kPolicy,
       "t.toml:2:14: error: 'slice_size' must be \"0\" (off) or between 64 KiB and 64 MiB"},
      {"slice too large", "[cache]\nslice_size = \"1 GiB\"\n" + kPolicy,
       "t.toml:2:14: error: 'slice_size' must be \"0\" (off) or between 64 KiB and 64 MiB"},
      {"object larger than the cache",
       "[cache]\nenabled = false\nmax_size = \"10 MiB\"\n" + kPolicy,
       "t.toml:3:12: warning: 'max_object_size' is larger than 'max_size'", false},
      {"lower-case method",
       "[sources]\nlan = [\"10.0.0.0/8\"]\n[destinations]\n"
       "web = { hosts = [\"*\"], methods = [\"GET\", \"get\"] }\n"
       "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
       "t.toml:4:42: warning: method 'get' can never match: methods are case-sensitive and clients "
       "send them in capitals; write \"GET\"",
       false},
      {"bad listen", "[server]\nlisten = [\"localhost:3128\"]\n" + kPolicy,
       "t.toml:2:11: error: 'listen': 'localhost' is not an IP address"},
      {"bad listen port", "[server]\nlisten = [\"127.0.0.1:65536\"]\n" + kPolicy,
       "t.toml:2:11: error: 'listen': '65536' is not a port"},
      {"bare IPv6 listen", "[server]\nlisten = [\"::1:3128\"]\n" + kPolicy,
       "t.toml:2:11: error: 'listen': IPv6 addresses are written in brackets: [ADDRESS]:PORT"},
      {"admin listen without port", "[admin]\nlisten = \"127.0.0.1\"\n" + kPolicy,
       "t.toml:2:10: error: 'listen': missing :PORT in '127.0.0.1'"},
      {"admin listen name", "[admin]\nlisten = \"localhost:3129\"\n" + kPolicy,
       "t.toml:2:10: error: 'listen': 'localhost' is not an IP address"},
      {"nameserver name", "[dns]\nnameservers = [\"ns.example:53\"]\n" + kPolicy,
       "t.toml:2:16: error: 'nameservers': 'ns.example:53' is not \"IP\" or \"IP:port\": "
       "'ns.example' is not an IP address"},
      // Port 0 was accepted here (the listen-address parser allows it); no server listens there.
      {"nameserver port 0", "[dns]\nnameservers = [\"192.0.2.53:0\"]\n" + kPolicy,
       "t.toml:2:16: error: 'nameservers': '192.0.2.53:0' is not \"IP\" or \"IP:port\": '0' is "
       "not a port from 1 to 65535"},
      {"bad admin allow entry", "[admin]\nallow = [\"127.0.0.1\", \"::1/129\"]\n" + kPolicy,
       "t.toml:2:23: error: 'allow': prefix length /129 is longer than 128 bits"},
      {"bad enum", "[cache]\neviction = \"random\"\n" + kPolicy,
       "t.toml:2:12: error: 'eviction' must be one of \"s3fifo\", \"lru\", not \"random\""},
      {"cache without dir", "[cache]\nenabled = true\n" + kPolicy,
       "t.toml:1:1: error: the cache is enabled but 'dir' is not set"},
      {"bad admin allow", "[admin]\nallow = [\"10.0.0.0/40\"]\n" + kPolicy,
       "t.toml:2:10: error: 'allow': prefix length /40"},
      {"section of wrong type", "server = 3\n" + kPolicy,
       "t.toml:1:10: error: 'server' must be a table"},
      {"bad CIDR", "[sources]\nlan = [\"10.0.0.0/8\", \"10.300.0.0/16\"]\n",
       "t.toml:2:22: error: bad CIDR '10.300.0.0/16'"},
      {"empty source set", "[sources]\nlan = []\n" + kPolicy.substr(kPolicy.find("[dest")),
       "t.toml:2:7: error: source set 'lan' is empty"},
      {"empty destination set", "[destinations]\nweb = {}\n",
       "t.toml:2:7: error: destination set 'web' is empty"},
      {"address in hosts", "[destinations]\nweb = { hosts = [\"10.0.0.1\"] }\n",
       "t.toml:2:18: error: '10.0.0.1' is an address; put addresses in 'cidrs'"},
      {"bad host pattern", "[destinations]\nweb = { hosts = [\"a.*.test\"] }\n",
       "t.toml:2:18: error: bad host pattern"},
      {"bad port", "[destinations]\nweb = { ports = [80, 70000] }\n",
       "t.toml:2:22: error: bad port"},
      {"bad port range", "[destinations]\nweb = { ports = [\"90-80\"] }\n",
       "t.toml:2:18: error: bad port"},
      {"bad scheme", "[destinations]\nweb = { schemes = [\"gopher\"] }\n",
       "t.toml:2:20: error: 'gopher' is not valid in 'schemes'"},
      {"undefined source",
       "[destinations]\nweb = { hosts = [\"*\"] }\n[[rule]]\nallow = { from = \"nobody\", to = "
       "\"web\" }\n",
       "t.toml:4:18: error: no source set named 'nobody' (defined: none)"},
      {"undefined destination",
       "[sources]\nlan = [\"10.0.0.0/8\"]\n[[rule]]\nallow = { from = \"lan\", to = \"webb\" }\n",
       "t.toml:4:30: error: no destination set named 'webb'"},
      {"allow without from",
       "[destinations]\nweb = { hosts = [\"*\"] }\n[[rule]]\nallow = { to = \"web\" }\n",
       "t.toml:4:9: error: an allow rule needs both 'from' (a source set) and 'to' (a destination "
       "set); this one has no 'from'"},
      {"rule with both",
       kPolicy + "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\ndeny = { to = \"web\" }\n",
       "t.toml:7:1: error: a rule needs exactly one of 'allow' or 'deny', not both"},
      {"rule as table",
       kPolicy.substr(0, kPolicy.find("[[rule]]")) + "[rule]\ndeny = { to = \"web\" }\n",
       "t.toml:5:1: error: rules are written [[rule]]"},
      {"duplicate rule name", kPolicy + "[[rule]]\nname = \"rule#1\"\ndeny = { to = \"web\" }\n",
       "t.toml:8:8: error: a rule named 'rule#1' already exists"},
      {"unreadable list file", "[destinations]\nbad = { hosts_file = \"/nonexistent/list.txt\" }\n",
       "t.toml:2:22: error: cannot read list file '/nonexistent/list.txt'"},
      {"unreadable source file", "[sources]\nx = { file = \"missing.txt\" }\n",
       "t.toml:2:14: error: cannot read list file './missing.txt'"},
      // Warnings (the config still loads).
      {"host bits set",
       "[sources]\nlan = [\"10.0.0.1/8\"]\n" + kPolicy.substr(kPolicy.find("[dest")),
       "t.toml:2:8: warning: '10.0.0.1/8' has host bits set: it means 10.0.0.0/8 (the whole "
       "block); "
       "for the single address write \"10.0.0.1\"",
       false},
      {"overlap in a set",
       "[sources]\nlan = [\"10.0.0.0/8\", \"10.1.0.0/16\"]\n" +
           kPolicy.substr(kPolicy.find("[dest")),
       "t.toml:2:22: warning: '10.1.0.0/16' in set 'lan' is already covered by '10.0.0.0/8' (line "
       "2)",
       false},
      {"shadowed rule",
       kPolicy + "[[rule]]\nname = \"again\"\nallow = { from = \"lan\", to = \"web\" }\n",
       "t.toml:7:1: warning: rule 'again' can never match: rule 'rule#1' (t.toml:5) comes first",
       false},
      {"unused set",
       "[sources]\nlan = [\"10.0.0.0/8\"]\n[destinations]\nspare = { ports = [8080] }\n"
       "web = { hosts = [\"*\"] }\n[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
       "t.toml:4:9: warning: destination set 'spare' is not used by any rule", false},
      {"0/0 does not open special ranges",
       "[sources]\nlan = [\"10.0.0.0/8\"]\n[destinations]\nall = { cidrs = [\"0.0.0.0/0\"] }\n"
       "[[rule]]\nallow = { from = \"lan\", to = \"all\" }\n",
       "t.toml:4:18: warning: '0.0.0.0/0' does not open special ranges", false},
      {"port 25 named",
       "[sources]\nlan = [\"10.0.0.0/8\"]\n[destinations]\nweb = { ports = [25, 80] }\n"
       "[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
       "t.toml:4:18: warning: port 25 (SMTP) is always refused", false},
      {"whole internet as a source",
       "[sources]\nlan = [\"0.0.0.0/0\"]\n" + kPolicy.substr(kPolicy.find("[dest")),
       "t.toml:2:8: warning: source set 'lan' contains 0.0.0.0/0", false},
      {"deny everything", kPolicy + "[[rule]]\ndeny = {}\n",
       "t.toml:8:8: warning: this deny rule has neither 'from' nor 'to'", false},
  };
  for (const Case& c : cases) {
    std::string name = c.name;
    CAPTURE(name);
    LoadResult r = loadConfigText(c.text, "t.toml");
    std::string text = all(r);
    CAPTURE(text);
    CHECK(text.find(c.expect) != std::string::npos);
    CHECK((r.config == nullptr) == c.fatal);
  }
}

TEST_CASE("all problems are reported in one run, in file order") {
  LoadResult r = loadConfigText(
      "[server]\nworkerz = 1\nmax_connections = \"x\"\n[dns]\ntimeout = 5\n"
      "[sources]\nlan = [\"bad\"]\n[destinations]\nweb = { hosts = [\"*\"] }\n"
      "[[rule]]\nallow = { from = \"lan\", to = \"nowhere\" }\n",
      "t.toml");
  CHECK(r.config == nullptr);
  std::vector<int> errorLines;
  for (const Diagnostic& d : r.diagnostics) {
    if (d.severity == Severity::kError) errorLines.push_back(d.line);
  }
  CHECK(errorLines == std::vector<int>{2, 3, 5, 7, 11});
}

TEST_CASE("an empty config is refused with a message that says how to write a rule") {
  LoadResult r = loadConfigText("", "empty.toml");
  CHECK(r.config == nullptr);
  REQUIRE(r.diagnostics.size() == 1);
  const std::string msg = r.diagnostics[0].format();
  CHECK(msg.find("empty.toml:1:1: error: nothing is allowed") == 0);
  CHECK(msg.find("allow = { from = \"lan\", to = \"web\" }") != std::string::npos);
}

TEST_CASE("a config whose only allow rule lacks 'from' is refused with the example") {
  LoadResult r = loadConfigText(
      "[destinations]\nweb = { hosts = [\"*\"] }\n[[rule]]\nallow = { to = \"web\" }\n", "t.toml");
  CHECK(r.config == nullptr);
  std::string text = all(r);
  CHECK(text.find("t.toml:4:9: error: an allow rule needs both") != std::string::npos);
  CHECK(text.find("allow = { from = \"lan\", to = \"web\" }") != std::string::npos);
}

TEST_CASE("deny-only config is refused: nothing would be allowed") {
  LoadResult r = loadConfigText(
      "[destinations]\nweb = { hosts = [\"*\"] }\n[[rule]]\ndeny = { to = \"web\" }\n", "t.toml");
  CHECK(r.config == nullptr);
  CHECK(all(r).find("t.toml:3:1: error: nothing is allowed") != std::string::npos);
}

TEST_CASE("list file problems point into the list file") {
  auto dir = std::filesystem::temp_directory_path() / "pc_config_test_lists";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "block.txt") << "# list\nads.test\nbad!name\n";
    std::ofstream(dir / "nets.txt") << "10.0.0.0/8\n10.0.0.1/24\n";
  }
  LoadResult r = loadConfigText(
      "[sources]\nlan = { file = \"nets.txt\" }\n"
      "[destinations]\nblocked = { hosts_file = \"block.txt\" }\nweb = { hosts = [\"*\"] }\n"
      "[[rule]]\ndeny = { to = \"blocked\" }\n[[rule]]\nallow = { from = \"lan\", to = \"web\" }\n",
      "t.toml", dir.string());
  std::string text = all(r);
  CAPTURE(text);
  REQUIRE(r.config != nullptr);
  CHECK(text.find((dir / "block.txt").string() + ":3:1: warning: '") != std::string::npos);
  CHECK(text.find((dir / "nets.txt").string() + ":2:1: warning: '10.0.0.1/24' has host bits set") !=
        std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("loadConfigFile reports an unreadable file") {
  LoadResult r = loadConfigFile("/nonexistent/portcullis.toml");
  CHECK(r.config == nullptr);
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].format().find("/nonexistent/portcullis.toml: error: cannot open") == 0);
}
