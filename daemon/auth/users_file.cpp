#include "daemon/auth/users_file.h"

#include <algorithm>

namespace portcullis::auth {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// Calls `f(lineNumber, line)` for every line that is not blank or a comment.
template <class F>
void forEachLine(std::string_view text, F&& f) {
  int number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    f(number, line);
  }
}

std::string_view describeUnsupported(std::string_view hash) {
  if (hash.starts_with("$apr1$") || hash.starts_with("$1$")) return "MD5-crypt";
  if (hash.starts_with("{SHA}")) return "unsalted SHA-1";
  if (hash.starts_with("$5$") || hash.starts_with("$6$")) return "SHA-crypt";
  return "an unknown or plain-text";
}

}  // namespace

HashKind hashKindOf(std::string_view hash) {
  if (hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
    return hash.size() == 60 ? HashKind::kBcrypt : HashKind::kUnsupported;
  }
  if (hash.starts_with("$y$") && hash.size() > 10) return HashKind::kYescrypt;
  return HashKind::kUnsupported;
}

bool validName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
  });
}

UsersFile UsersFile::parse(std::string_view text, std::vector<FileIssue>& issues) {
  UsersFile out;
  forEachLine(text, [&](int number, std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      issues.push_back({number, "expected \"user:hash\" (as written by htpasswd -B)"});
      return;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view hash = line.substr(colon + 1);
    if (!validName(name)) {
      issues.push_back({number, "'" + std::string(name.substr(0, 64)) +
                                    "' is not a valid user name (letters, digits, . _ - @)"});
      return;
    }
    if (hashKindOf(hash) == HashKind::kUnsupported) {
      // Never echo the hash: the message ends up in logs.
      issues.push_back({number, "user '" + std::string(name) + "' has " +
                                    std::string(describeUnsupported(hash)) +
                                    " hash; only bcrypt ($2y$, htpasswd -B) and yescrypt ($y$, "
                                    "portcullis passwd) are accepted"});
      return;
    }
    if (out.index_.count(std::string(name)) != 0) {
      issues.push_back({number, "user '" + std::string(name) + "' is listed twice"});
      return;
    }
    out.index_.emplace(std::string(name), out.entries_.size());
    out.entries_.push_back(UserEntry{std::string(name), std::string(hash), number});
  });
  return out;
}

const UserEntry* UsersFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void Groups::add(const std::string& group, const std::string& user) {
  auto& m = members[group];
  if (std::find(m.begin(), m.end(), user) != m.end()) return;
  m.push_back(user);
  ofUser[user].push_back(group);
}

const std::vector<std::string>& Groups::groupsOf(const std::string& user) const {
  static const std::vector<std::string> kNone;
  auto it = ofUser.find(user);
  return it == ofUser.end() ? kNone : it->second;
}

void Groups::parseFile(std::string_view text, std::vector<FileIssue>& issues) {
  forEachLine(text, [&](int number, std::string_view line) {
    size_t colon = line.find(':');
    std::string_view group = colon == std::string_view::npos ? line : trim(line.substr(0, colon));
    if (colon == std::string_view::npos || !validName(group)) {
      issues.push_back({number, "expected \"group: user1 user2\""});
      return;
    }
    std::string_view rest = line.substr(colon + 1);
    while (!rest.empty()) {
      rest = trim(rest);
      size_t sp = rest.find_first_of(" \t");
      std::string_view user = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
      if (user.empty()) break;
      if (!validName(user)) {
        issues.push_back(
            {number, "'" + std::string(user.substr(0, 64)) + "' is not a valid user name"});
        continue;
      }
      add(std::string(group), std::string(user));
    }
  });
}

}  // namespace portcullis::auth
