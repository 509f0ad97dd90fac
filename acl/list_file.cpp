#include "acl/list_file.h"

#include <algorithm>

namespace portcullis::acl {

namespace {
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Calls fn(line, lineNo, columnOffsetOfFirstField, fields) for each line with content.
template <class Fn>
void forEachLine(std::string_view text, Fn&& fn) {
  int lineNo = 0;
  size_t pos = 0;
  std::vector<std::pair<std::string_view, int>> fields;  // text, 1-based column
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    ++lineNo;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    fields.clear();
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && isSpace(line[i])) ++i;
      size_t start = i;
      while (i < line.size() && !isSpace(line[i])) ++i;
      if (i > start) fields.emplace_back(line.substr(start, i - start), static_cast<int>(start + 1));
    }
    if (!fields.empty()) fn(lineNo, fields);
    pos = end + 1;
  }
}

void note(std::vector<ListIssue>& issues, size_t maxIssues, int line, int col, std::string msg) {
  if (issues.size() < maxIssues) issues.push_back({line, col, std::move(msg)});
}
}  // namespace

ListStats parseHostList(std::string_view text, HostSet& into, std::vector<ListIssue>& issues,
                        size_t maxIssues) {
  ListStats stats;
  into.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  forEachLine(text, [&](int lineNo, const std::vector<std::pair<std::string_view, int>>& fields) {
    size_t first = 0;
    // Hosts-file form: "0.0.0.0 name [name...]".
    if (fields.size() > 1 && IpAddress::parse(fields[0].first)) first = 1;
    for (size_t f = first; f < fields.size(); ++f) {
      auto [word, col] = fields[f];
      std::string error;
      if (IpAddress::parse(word)) {
        ++stats.bad;
        note(issues, maxIssues, lineNo, col,
             "'" + std::string(word) + "' is an address, not a host name; use cidrs for addresses");
        continue;
      }
      auto pattern = parseHostPattern(word, /*bareMeansBoth=*/true, error);
      if (!pattern || pattern->any) {
        ++stats.bad;
        note(issues, maxIssues, lineNo, col,
             pattern ? "\"*\" is not allowed in a list file" : error);
        continue;
      }
      into.add(*pattern);
      ++stats.entries;
    }
  });
  return stats;
}

ListStats parseCidrList(std::string_view text, std::vector<Cidr>& into,
                        std::vector<ListIssue>& issues, size_t maxIssues) {
  ListStats stats;
  forEachLine(text, [&](int lineNo, const std::vector<std::pair<std::string_view, int>>& fields) {
    for (const auto& [word, col] : fields) {
      CidrParse p = parseCidr(word);
      if (!p.cidr) {
        ++stats.bad;
        note(issues, maxIssues, lineNo, col, p.error);
        continue;
      }
      if (p.hostBitsSet) {
        ++stats.hostBitsSet;
        note(issues, maxIssues, lineNo, col,
             "'" + std::string(word) + "' has host bits set; it means " + p.cidr->toString());
      }
      into.push_back(*p.cidr);
      ++stats.entries;
    }
  });
  return stats;
}

}  // namespace portcullis::acl
