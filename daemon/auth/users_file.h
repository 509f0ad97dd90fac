#pragma once
// The users file of [auth] users_file: htpasswd-compatible lines
// "name:hash", with the hash one of the slow crypt(3) kinds libxcrypt
// verifies: bcrypt ($2y$, $2b$, $2a$: `htpasswd -B`) and yescrypt ($y$:
// `portcullis passwd`, mkpasswd). Faster or older kinds (MD5-crypt $apr1$,
// SHA1 {SHA}, DES, plain text) are refused: a stolen file of those is
// cracked in hours. Pure: parses text, no I/O.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace portcullis::auth {

enum class HashKind { kBcrypt, kYescrypt, kUnsupported };

/// What kind of hash `hash` is, by its prefix.
HashKind hashKindOf(std::string_view hash);

struct UserEntry {
  std::string name;
  std::string hash;
  int line = 0;
};

/// A problem in one line of a users or groups file (1-based line).
struct FileIssue {
  int line = 0;
  std::string message;
};

class UsersFile {
 public:
  /// Parses `text`; every bad line is reported in `issues` and skipped.
  /// Blank lines and lines starting with '#' are ignored.
  static UsersFile parse(std::string_view text, std::vector<FileIssue>& issues);

  /// The entry for `name`, or nullptr.
  const UserEntry* find(std::string_view name) const;
  size_t size() const { return entries_.size(); }
  const std::vector<UserEntry>& entries() const { return entries_; }

 private:
  std::vector<UserEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

/// Group membership: from [groups] in the config or a groups file in the
/// Apache AuthGroupFile format ("group: alice bob").
struct Groups {
  std::unordered_map<std::string, std::vector<std::string>> members;
  std::unordered_map<std::string, std::vector<std::string>> ofUser;

  void add(const std::string& group, const std::string& user);
  /// The groups `user` belongs to (empty when none).
  const std::vector<std::string>& groupsOf(const std::string& user) const;
  /// Parses an AuthGroupFile text into this; bad lines go to `issues`.
  void parseFile(std::string_view text, std::vector<FileIssue>& issues);
};

/// A user or group name: 1-64 of letters, digits, '.', '_', '-', '@'.
bool validName(std::string_view name);

}  // namespace portcullis::auth
