#include "daemon/net/hosts_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace portcullis::net {

namespace {
bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<std::string_view> splitWords(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isBlank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !isBlank(line[i])) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}
}  // namespace

HostsTable parseHostsFile(std::string_view text) {
  HostsTable table;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto words = splitWords(line);
    if (words.size() < 2) continue;
    auto ip = acl::IpAddress::parse(words[0]);
    if (!ip) continue;
    for (size_t i = 1; i < words.size(); ++i) {
      std::string name(words[i]);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto& list = table[name];
      if (std::find(list.begin(), list.end(), *ip) == list.end()) list.push_back(*ip);
    }
  }
  return table;
}

HostsTable loadHostsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parseHostsFile(buffer.str());
}

}  // namespace portcullis::net
