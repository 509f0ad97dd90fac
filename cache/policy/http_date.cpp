#include "cache/policy/http_date.h"

#include <array>
#include <cstdio>


namespace portcullis::cache::policy {
namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};

// Days since 1970-01-01 of a proleptic Gregorian date (the usual
// era-based civil calendar arithmetic).
int64_t daysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civilFromDays(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

// A tiny cursor over the date text.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool lit(std::string_view t) {
    if (s.substr(i, t.size()) != t) return false;
    i += t.size();
    return true;
  }
  bool num(int digits, int64_t& out) {
    out = 0;
    for (int k = 0; k < digits; ++k) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i++] - '0');
    }
    return true;
  }
  bool month(int64_t& out) {
    for (size_t k = 0; k < kMonths.size(); ++k) {
      if (s.substr(i, 3) == kMonths[k]) {
        out = static_cast<int64_t>(k) + 1;
        i += 3;
        return true;
      }
    }
    return false;
  }
  bool skipWord() {  // day name (short or long), letters only
    size_t start = i;
    while (i < s.size() && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'))) ++i;
    return i > start;
  }
  bool time(int64_t& h, int64_t& mi, int64_t& se) {
    return num(2, h) && lit(":") && num(2, mi) && lit(":") && num(2, se);
  }
  bool done() const { return i == s.size(); }
};

std::optional<int64_t> assemble(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s) {
  if (d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

}  // namespace

std::optional<int64_t> parseHttpDate(std::string_view text) {
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  {  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    Cursor c{text};
    if (c.skipWord() && c.lit(", ") && c.num(2, d) && c.lit(" ") && c.month(mo) && c.lit(" ") &&
        c.num(4, y) && c.lit(" ") && c.time(h, mi, s) && c.lit(" GMT") && c.done()) {
      return assemble(y, mo, d, h, mi, s);
    }
  }
  {  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    Cursor c{text};
    if (c.skipWord() && c.lit(", ") && c.num(2, d) && c.lit("-") && c.month(mo) && c.lit("-") &&
        c.num(2, y) && c.lit(" ") && c.time(h, mi, s) && c.lit(" GMT") && c.done()) {
      // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future
      // is the most recent past year with those digits. We resolve against
      // 2000-2099 vs 1900-1999 with a fixed pivot (years < 70 -> 20xx).
      y += y < 70 ? 2000 : 1900;
      return assemble(y, mo, d, h, mi, s);
    }
  }
  {  // asctime: "Sun Nov  6 08:49:37 1994"
    Cursor c{text};
    if (c.skipWord() && c.lit(" ") && c.month(mo) && c.lit(" ")) {
      bool dayOk = c.lit(" ") ? c.num(1, d) : c.num(2, d);
      if (dayOk && c.lit(" ") && c.time(h, mi, s) && c.lit(" ") && c.num(4, y) && c.done()) {
        return assemble(y, mo, d, h, mi, s);
      }
    }
  }
  return std::nullopt;
}

std::string formatHttpDate(int64_t unixSeconds) {
  int64_t days = unixSeconds >= 0 ? unixSeconds / 86400 : (unixSeconds - 86399) / 86400;
  int64_t rem = unixSeconds - days * 86400;
  int64_t y = 0, m = 0, d = 0;
  civilFromDays(days, y, m, d);
  const auto wd = static_cast<size_t>(((days % 7) + 7) % 7);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[wd].data(),
                static_cast<int>(d), kMonths[static_cast<size_t>(m - 1)].data(), static_cast<int>(y),
                static_cast<int>(rem / 3600), static_cast<int>((rem / 60) % 60),
                static_cast<int>(rem % 60));
  return buf;
}

}  // namespace portcullis::cache::policy
