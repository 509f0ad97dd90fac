#include "daemon/audit/report.h"

#include <algorithm>

#include "daemon/log/json_writer.h"

namespace portcullis::audit {
namespace {

void appendPadded(std::string& out, const std::string& text, size_t width) {
  out += text;
  if (text.size() < width) out.append(width - text.size(), ' ');
  out.push_back(' ');
}

}  // namespace

size_t AuditReport::count(Verdict v) const {
  return static_cast<size_t>(std::count_if(probes.begin(), probes.end(),
                                           [v](const ProbeResult& p) { return p.verdict == v; }));
}

std::string renderTable(const AuditReport& report) {
  size_t nameWidth = 5;
  size_t sentWidth = 4;
  for (const auto& p : report.probes) {
    nameWidth = std::max(nameWidth, printable(p.name, 40).size());
    sentWidth = std::max(sentWidth, printable(p.sent, 60).size());
  }
  std::string out = "audit of proxy " + printable(report.proxy) + "\n";
  appendPadded(out, "PROBE", nameWidth);
  appendPadded(out, "VERDICT", 12);
  appendPadded(out, "SENT", sentWidth);
  out += "EVIDENCE\n";
  for (const auto& p : report.probes) {
    appendPadded(out, printable(p.name, 40), nameWidth);
    appendPadded(out, std::string(verdictName(p.verdict)), 12);
    appendPadded(out, printable(p.sent, 60), sentWidth);
    out += printable(p.evidence, 200);
    out.push_back('\n');
  }
  const size_t relayed = report.count(Verdict::kRelayed);
  const size_t unsure = report.count(Verdict::kInconclusive);
  if (relayed > 0) {
    out += "OPEN: " + std::to_string(relayed) + (relayed == 1 ? " probe" : " probes") + " relayed";
  } else {
    out += "closed: no probe relayed";
  }
  if (unsure > 0) out += " (" + std::to_string(unsure) + " inconclusive)";
  out.push_back('\n');
  return out;
}

std::string renderJson(const AuditReport& report) {
  log::JsonArray probes;
  for (const auto& p : report.probes) {
    probes.raw(log::JsonObject()
                   .field("name", p.name)
                   .field("sent", p.sent)
                   .field("verdict", verdictName(p.verdict))
                   .field("evidence", p.evidence)
                   .finish());
  }
  std::string out = log::JsonObject()
                        .field("proxy", report.proxy)
                        .field("open", report.open())
                        .field("relayed", report.count(Verdict::kRelayed))
                        .field("inconclusive", report.count(Verdict::kInconclusive))
                        .raw("probes", probes.finish())
                        .finish();
  out.push_back('\n');
  return out;
}

}  // namespace portcullis::audit
