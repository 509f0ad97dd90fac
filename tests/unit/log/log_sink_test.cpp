#include "daemon/log/log_sink.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon/log/event_log.h"
#include "tests/unit/log/json_check.h"

using namespace portcullis::log;

namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/pc_log_test_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t countLines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST_CASE("LogSink writes every line from many threads, in per-thread order") {
  TempDir dir;
  const std::string file = dir.path + "/access.log";
  LogSink sink;
  REQUIRE(sink.open(file).ok());
  constexpr int kThreads = 4;
  constexpr int kLines = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink, t] {
      for (int i = 0; i < kLines; ++i)
        sink.submit("t" + std::to_string(t) + " " + std::to_string(i));
    });
  }
  for (auto& th : threads) th.join();
  sink.flush();
  const auto c = sink.counters();
  CHECK(c.written == kThreads * kLines);
  CHECK(c.dropped == 0);
  CHECK(c.failed == 0);
  const std::string text = slurp(file);
  CHECK(countLines(text) == kThreads * kLines);
  // Per thread, lines appear in submission order.
  std::vector<int> next(kThreads, 0);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const int t = line[1] - '0';
    REQUIRE(t >= 0);
    REQUIRE(t < kThreads);
    CHECK(std::stoi(line.substr(3)) == next[static_cast<size_t>(t)]++);
  }
  sink.stop();
}

TEST_CASE("LogSink: a full queue drops and counts instead of blocking") {
  TempDir dir;
  LogSink::Options opt;
  opt.maxQueuedBytes = 100;
  opt.wakeBytes = 1 << 20;                    // never woken early
  opt.flushInterval = std::chrono::hours(1);  // and never by the timer
  LogSink sink(opt);
  REQUIRE(sink.open(dir.path + "/x.log").ok());
  for (int i = 0; i < 50; ++i) sink.submit("0123456789");  // 11 bytes each
  CHECK(sink.counters().dropped == 41);                    // 9 fit in 100 bytes
  sink.flush();
  CHECK(sink.counters().written == 9);
  CHECK(countLines(slurp(dir.path + "/x.log")) == 9);
}

TEST_CASE("LogSink: write failures (disk full) are counted, not fatal") {
  LogSink sink;
  REQUIRE(sink.open("/dev/full").ok());
  for (int i = 0; i < 10; ++i) sink.submit("line");
  sink.flush();
  const auto c = sink.counters();
  CHECK(c.written == 0);
  CHECK(c.failed == 10);
  CHECK(sink.lastError().find("No space left") != std::string::npos);
  sink.submit("more");  // still accepted, still counted
  sink.flush();
  CHECK(sink.counters().failed == 11);
}

TEST_CASE("LogSink: reopen follows logrotate's rename") {
  TempDir dir;
  const std::string file = dir.path + "/access.log";
  LogSink sink;
  REQUIRE(sink.open(file).ok());
  sink.submit("before");
  sink.flush();
  std::filesystem::rename(file, file + ".1");
  sink.submit("still old");  // queued before reopen: goes to the old file
  sink.reopen();
  sink.flush();
  sink.submit("after");
  sink.flush();
  CHECK(sink.counters().reopens == 1);
  CHECK(slurp(file + ".1") == "before\nstill old\n");
  CHECK(slurp(file) == "after\n");

  SUBCASE("a failed reopen keeps the old file") {
    std::filesystem::remove_all(dir.path);  // path no longer creatable
    sink.reopen();
    sink.flush();
    sink.submit("kept");
    sink.flush();
    CHECK(sink.counters().reopenFailures == 1);
    CHECK(sink.counters().written == 4);
    CHECK(sink.lastError().find("reopen") == 0);
  }
}

TEST_CASE("LogSink: open errors and closed sinks") {
  LogSink sink;
  const auto r = sink.open("/nonexistent-dir/x.log");
  CHECK_FALSE(r.ok());
  CHECK(r.error().message.find("/nonexistent-dir/x.log") != std::string::npos);
  sink.submit("nowhere");
  CHECK(sink.counters().dropped == 1);
  sink.flush();  // returns at once
  sink.stop();
}

TEST_CASE("LogSink: stop flushes everything queued") {
  TempDir dir;
  LogSink::Options opt;
  opt.flushInterval = std::chrono::hours(1);
  const std::string file = dir.path + "/s.log";
  {
    LogSink sink(opt);
    REQUIRE(sink.open(file).ok());
    for (int i = 0; i < 100; ++i) sink.submit("x");
  }  // destructor stops
  CHECK(countLines(slurp(file)) == 100);
}

TEST_CASE("EventLog emits JSON lines with typed fields") {
  const std::string line =
      formatEvent(portcullis::SystemTime(std::chrono::milliseconds(0)), Level::kWarn, "limit_hit",
                  {{"limit", "max_connections"},
                   {"value", 10000u},
                   {"ratio", 0.5},
                   {"ok", false},
                   {"neg", -2},
                   {"path", std::string("a\"\n")}});
  const auto v = portcullis::testing::JsonReader::parse(line);
  using T = portcullis::testing::JsonValue::Type;
  CHECK(v.at("ts").string == "1970-01-01T00:00:00.000Z");
  CHECK(v.at("level").string == "warn");
  CHECK(v.at("event").string == "limit_hit");
  CHECK(v.at("value").number == 10000);
  CHECK(v.at("ratio").number == 0.5);
  CHECK(v.at("ok").type == T::kBool);
  CHECK(v.at("neg").number == -2);
  CHECK(v.at("path").string == "a\"\n");

  TempDir dir;
  EventLog log;
  REQUIRE(log.open(dir.path + "/events.log").ok());
  log.emit(Level::kDebug, "noise");  // below the default minimum
  log.emit(Level::kInfo, "start", {{"workers", 2}});
  log.sink().flush();
  const std::string text = slurp(dir.path + "/events.log");
  CHECK(countLines(text) == 1);
  CHECK(text.find("\"event\":\"start\",\"workers\":2}") != std::string::npos);
}

TEST_CASE("RefusalTracker reports once per window per client, bounded") {
  using namespace std::chrono;
  const portcullis::SystemTime t0(seconds(1000));
  RefusalTracker tr(3, seconds(60), 2);
  CHECK(tr.note("a", t0) == 0);
  CHECK(tr.note("a", t0 + seconds(1)) == 0);
  CHECK(tr.note("a", t0 + seconds(2)) == 3);
  CHECK(tr.note("a", t0 + seconds(3)) == 0);  // already reported this window
  CHECK(tr.note("b", t0) == 0);
  CHECK(tr.note("c", t0) == 0);                // table full, nothing old to evict: not tracked
  CHECK(tr.note("a", t0 + seconds(61)) == 0);  // new window starts over
  CHECK(tr.note("a", t0 + seconds(62)) == 0);
  CHECK(tr.note("a", t0 + seconds(63)) == 3);
  // b's window expired: c can take its place.
  CHECK(tr.note("c", t0 + seconds(70)) == 0);
}
