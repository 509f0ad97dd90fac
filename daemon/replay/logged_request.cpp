#include "daemon/replay/logged_request.h"

#include <charconv>
#include <chrono>

#include "daemon/http/host_port.h"
#include "daemon/http/uri.h"
#include "daemon/replay/flat_json.h"

namespace portcullis::replay {

namespace {

bool digitsAt(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  const auto r = std::from_chars(s.data() + at, s.data() + at + n, out);
  return r.ec == std::errc() && r.ptr == s.data() + at + n;
}

/// The target as the exchange parsed it: absolute-form URL, or the
/// authority of a CONNECT (http/uri.h, the daemon's own parsers).
void readTarget(LoggedRequest& out) {
  out.isConnect = out.method == "CONNECT";
  auto t = out.isConnect ? http::parseAuthorityForm(out.url) : http::parseAbsoluteForm(out.url);
  out.targetOk = t.ok();
  if (!t.ok()) return;
  out.scheme = out.isConnect ? std::string() : (*t).scheme;
  out.host = (*t).host;
  out.port = (*t).port;
}

/// The addresses the rules checked, best source first (AddressSource).
void readAddresses(const FlatJson& json, LoggedRequest& out) {
  out.addresses.clear();
  out.addressSource = AddressSource::kNone;
  if (auto literal = acl::IpAddress::parse(out.host)) {
    out.addresses.push_back(*literal);
    out.addressSource = AddressSource::kLiteral;
    return;
  }
  if (const FlatField* a = json.find("addresses");
      a != nullptr && a->kind == FlatField::Kind::kStringArray) {
    for (const std::string& text : a->items) {
      if (auto ip = acl::IpAddress::parse(text)) out.addresses.push_back(*ip);
    }
    if (!out.addresses.empty()) {
      out.addressSource = AddressSource::kLogged;
      return;
    }
  }
  const std::string_view upstream = json.string("upstream");
  if (upstream.empty()) return;
  auto hp = http::parseHostPort(upstream, {.portRequired = false, .ipOnly = true});
  if (!hp.ok()) return;
  if (auto ip = acl::IpAddress::parse((*hp).host)) {
    out.addresses.push_back(*ip);
    out.addressSource = AddressSource::kUpstream;
  }
}

}  // namespace

bool parseTimestamp(std::string_view s, SystemTime& out) {
  // YYYY-MM-DDTHH:MM:SS[.mmm]Z
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, ms = 0;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s.back() != 'Z' || !digitsAt(s, 0, 4, y) || !digitsAt(s, 5, 2, mo) || !digitsAt(s, 8, 2, d) ||
      !digitsAt(s, 11, 2, h) || !digitsAt(s, 14, 2, mi) || !digitsAt(s, 17, 2, se)) {
    return false;
  }
  if (s.size() == 24 && (s[19] != '.' || !digitsAt(s, 20, 3, ms))) return false;
  if (s.size() != 20 && s.size() != 24) return false;
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return false;
  out = SystemTime(sys_days(ymd).time_since_epoch() + hours(h) + minutes(mi) + seconds(se) +
                   milliseconds(ms));
  return true;
}

std::string readLoggedRequest(const FlatJson& json, LoggedRequest& out) {
  for (const char* key : {"ts", "client", "method", "url", "decision", "rule"}) {
    const FlatField* f = json.find(key);
    if (f == nullptr || f->kind != FlatField::Kind::kString) {
      return std::string("no string '") + key + "': not an access record";
    }
  }
  if (!parseTimestamp(json.string("ts"), out.start)) return "bad 'ts'";
  auto client = http::parseHostPort(json.string("client"), {.portRequired = false, .ipOnly = true});
  auto ip = client.ok() ? acl::IpAddress::parse((*client).host) : std::nullopt;
  if (!ip) return "bad 'client' (not ip:port)";
  out.client = *ip;
  const std::string_view decision = json.string("decision");
  if (decision != "allow" && decision != "deny") return "bad 'decision'";
  out.loggedVerdict = decision == "allow" ? acl::Verdict::kAllow : acl::Verdict::kDeny;
  out.loggedRule = json.string("rule");
  out.user = json.string("user");
  out.method = json.string("method");
  out.url = json.string("url");
  out.loggedWould = json.string("would_deny");
  if (out.loggedWould.empty()) out.loggedWould = json.string("would_allow");
  const FlatField* status = json.find("status");
  out.status = 0;
  if (status != nullptr && status->kind == FlatField::Kind::kNumber) {
    std::from_chars(status->text.data(), status->text.data() + status->text.size(), out.status);
  }
  readTarget(out);
  if (out.targetOk) {
    readAddresses(json, out);
  } else {
    out.addresses.clear();
    out.addressSource = AddressSource::kNone;
  }
  return {};
}

}  // namespace portcullis::replay
