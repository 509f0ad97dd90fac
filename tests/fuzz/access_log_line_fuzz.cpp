// Fuzzes what `explain --replay` reads from an access log it is handed (a
// file from disk, possibly truncated by a crash or edited by hand): each
// input line through the flat JSON reader and, when it parses, into a
// LoggedRequest. Checks the reader's own promises on every line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/replay/flat_json.h"
#include "daemon/replay/logged_request.h"

using namespace portcullis;
using namespace portcullis::replay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  FlatJson json;  // one reader for every line, as the replay does
  size_t pos = 0;
  size_t lineNumber = 0;
  while (pos <= in.size()) {
    size_t end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(pos, end - pos);
    pos = end + 1;
    ++lineNumber;
    const bool parsed = json.parse(line);
    // A failure always says where and why; a success says nothing.
    if (parsed != json.error().empty()) abort();
    if (!parsed) continue;
    // string() agrees with find(): the text of a string member, else "".
    for (std::string_view key : {"ts", "client", "url", "method", "user", "decision"}) {
      const FlatField* f = json.find(key);
      const bool isString = f != nullptr && f->kind == FlatField::Kind::kString;
      if (json.string(key) != (isString ? std::string_view(f->text) : std::string_view())) abort();
    }
    LoggedRequest record;
    record.line = lineNumber;
    const std::string why = readLoggedRequest(json, record);
    if (why.empty() && record.targetOk && record.host.empty()) abort();
    SystemTime when;
    (void)parseTimestamp(json.string("ts"), when);
  }
  return 0;
}
