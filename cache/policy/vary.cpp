#include "cache/policy/vary.h"

#include <algorithm>

namespace portcullis::cache::policy {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

bool caseInsensitiveValues(std::string_view lowerName) {
  return lowerName == "accept" || lowerName == "accept-encoding" ||
         lowerName == "accept-language" || lowerName == "accept-charset";
}

// Trims list members and collapses internal whitespace runs to one space.
std::string normaliseListValue(std::string_view v) {
  std::string out;
  bool pendingSpace = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pendingSpace = true;
      continue;
    }
    if (c == ',') {
      out.push_back(',');
      pendingSpace = false;
      continue;
    }
    if (pendingSpace && !out.empty() && out.back() != ',') out.push_back(' ');
    pendingSpace = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<std::string> varyFieldNames(const http::HeaderMap& responseHeaders) {
  std::vector<std::string> names;
  for (const auto& field : responseHeaders.fields()) {
    if (!http::equalsIgnoreCase(field.name, "Vary")) continue;
    std::string_view v = field.value;
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t comma = v.find(',', pos);
      if (comma == std::string_view::npos) comma = v.size();
      std::string_view member = v.substr(pos, comma - pos);
      while (!member.empty() && (member.front() == ' ' || member.front() == '\t')) member.remove_prefix(1);
      while (!member.empty() && (member.back() == ' ' || member.back() == '\t')) member.remove_suffix(1);
      if (!member.empty()) names.push_back(lowerCopy(member));
      pos = comma + 1;
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string secondaryKey(const std::vector<std::string>& varyNames,
                         const http::HeaderMap& requestHeaders) {
  std::string key;
  for (const auto& name : varyNames) {
    if (!key.empty()) key.push_back('\n');
    key += name;
    auto combined = requestHeaders.getCombined(name);
    if (!combined) {
      key.push_back('!');
      continue;
    }
    key.push_back('=');
    std::string value = normaliseListValue(*combined);
    if (caseInsensitiveValues(name)) value = lowerCopy(value);
    key += value;
  }
  return key;
}

std::string joinVaryNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out.push_back(',');
    out += n;
  }
  return out;
}

std::vector<std::string> splitVaryNames(std::string_view joined) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < joined.size()) {
    size_t comma = joined.find(',', pos);
    if (comma == std::string_view::npos) comma = joined.size();
    if (comma > pos) out.emplace_back(joined.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

}  // namespace portcullis::cache::policy
