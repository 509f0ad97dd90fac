#include "daemon/config/toml_reader.h"

#include <algorithm>
#include <cctype>

#include "daemon/config/config_schema.h"
#include "daemon/config/units.h"

namespace portcullis::config {

namespace {
std::string quoteKey(std::string_view key) { return "'" + std::string(key) + "'"; }

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// The unit of the schema default of size key `key` ("GiB" for max_size),
/// the likeliest meant; "MiB" when the default has none.
std::string likelyUnit(std::string_view key) {
  for (const KeySpec& k : configSchema()) {
    if (k.type != "size" || !k.path.ends_with("." + std::string(key))) continue;
    std::string_view def = k.defaultValue;
    size_t space = def.find(' ');
    if (space != std::string_view::npos && def.ends_with('"')) {
      return std::string(def.substr(space + 1, def.size() - space - 2));
    }
  }
  return "MiB";
}

std::string sizeNeedsUnit(std::string_view key, const std::string& number) {
  return "size needs a unit: write \"" + number + " " + likelyUnit(key) + "\" (or \"" + number +
         " B\" for bytes)";
}

std::string where(std::string_view path) {
  if (path.empty()) return "at the top level";
  if (path == "rule") return "in [[rule]]";
  return "in [" + std::string(path) + "]";
}

void checkTable(TomlReader& r, const toml::table& t, const std::string& path) {
  const KeySpec* parent = path.empty() ? nullptr : findKeySpec(path);
  for (auto&& [key, node] : t) {
    std::string child;
    if (parent != nullptr && parent->kind == KeyKind::kNamedTables) {
      child = path + ".<name>";
    } else {
      child = path.empty() ? std::string(key.str()) : path + "." + std::string(key.str());
    }
    const KeySpec* spec = findKeySpec(child);
    if (spec == nullptr) {
      std::string msg = "unknown key " + quoteKey(key.str()) + " " + where(path);
      std::string_view best;
      size_t bestDist = 3;
      for (std::string_view known : childKeys(path)) {
        size_t d = editDistance(key.str(), known);
        if (d < bestDist) {
          bestDist = d;
          best = known;
        }
      }
      if (!best.empty()) msg += "; did you mean " + quoteKey(best) + "?";
      r.error(key.source(), msg);
      continue;
    }
    if (spec->kind == KeyKind::kArrayOfTables && node.is_array()) {
      for (const toml::node& el : *node.as_array()) {
        if (const toml::table* sub = el.as_table()) checkTable(r, *sub, child);
      }
    } else if (spec->kind != KeyKind::kValue && node.is_table()) {
      checkTable(r, *node.as_table(), child);
    }
  }
}
}  // namespace

void TomlReader::add(Severity s, std::string file, int line, int column, std::string message) {
  if (s == Severity::kError) ++errors_;
  out_.push_back(Diagnostic{s, std::move(file), line, column, std::move(message)});
}

void TomlReader::error(const toml::source_region& w, std::string message) {
  add(Severity::kError, file_, static_cast<int>(w.begin.line), static_cast<int>(w.begin.column),
      std::move(message));
}

void TomlReader::warning(const toml::source_region& w, std::string message) {
  add(Severity::kWarning, file_, static_cast<int>(w.begin.line), static_cast<int>(w.begin.column),
      std::move(message));
}

std::string TomlReader::typeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number with a fraction";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    default: return "nothing";
  }
}

bool TomlReader::getString(const toml::table& t, std::string_view key, std::string& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return false;
  if (auto s = n->value<std::string>(); s && n->is_string()) {
    out = *s;
    return true;
  }
  error(n->source(), quoteKey(key) + " must be a string, not " + typeName(*n));
  return false;
}

bool TomlReader::getBool(const toml::table& t, std::string_view key, bool& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return false;
  if (n->is_boolean()) {
    out = n->as_boolean()->get();
    return true;
  }
  error(n->source(), quoteKey(key) + " must be true or false, not " + typeName(*n));
  return false;
}

bool TomlReader::getInteger(const toml::table& t, std::string_view key, int64_t min, int64_t max,
                            int64_t& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return false;
  if (!n->is_integer()) {
    error(n->source(), quoteKey(key) + " must be an integer, not " + typeName(*n));
    return false;
  }
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    error(n->source(), quoteKey(key) + " must be between " + std::to_string(min) + " and " +
                           std::to_string(max) + ", not " + std::to_string(v));
    return false;
  }
  out = v;
  return true;
}

bool TomlReader::getDuration(const toml::table& t, std::string_view key,
                             std::chrono::milliseconds& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return false;
  if (!n->is_string()) {
    error(n->source(), quoteKey(key) + " must be a duration string such as \"30s\", not " +
                           typeName(*n));
    return false;
  }
  std::string err;
  auto d = parseDuration(n->as_string()->get(), err);
  if (!d) {
    error(n->source(), quoteKey(key) + ": " + err);
    return false;
  }
  out = *d;
  return true;
}

bool TomlReader::getSize(const toml::table& t, std::string_view key, uint64_t& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return false;
  if (n->is_integer()) {
    int64_t v = n->as_integer()->get();
    if (v < 0) {
      error(n->source(), quoteKey(key) + " must not be negative");
      return false;
    }
    // 0 is 0 in any unit; any other bare number is ambiguous ("10" meant as
    // 10 GiB would be 10 bytes), so it is refused with the fix spelled out.
    if (v != 0) {
      error(n->source(), quoteKey(key) + " = " + std::to_string(v) + ": " +
                             sizeNeedsUnit(key, std::to_string(v)));
      return false;
    }
    out = 0;
    return true;
  }
  if (!n->is_string()) {
    error(n->source(), quoteKey(key) + " must be a size such as \"512 KiB\", not " + typeName(*n));
    return false;
  }
  const std::string& text = n->as_string()->get();
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos &&
      text.find_first_not_of('0') != std::string::npos) {
    error(n->source(), quoteKey(key) + " = \"" + text + "\": " + sizeNeedsUnit(key, text));
    return false;
  }
  std::string err;
  auto s = parseSize(text, err);
  if (!s) {
    error(n->source(), quoteKey(key) + ": " + err);
    return false;
  }
  out = *s;
  return true;
}

bool TomlReader::getStringArray(const toml::table& t, std::string_view key,
                                std::vector<std::string>& out,
                                std::vector<toml::source_region>* where) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return false;
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    error(n->source(), quoteKey(key) + " must be an array of strings, not " + typeName(*n));
    return false;
  }
  out.clear();
  if (where != nullptr) where->clear();
  bool ok = true;
  for (const toml::node& el : *a) {
    if (!el.is_string()) {
      error(el.source(), "elements of " + quoteKey(key) + " must be strings, not " + typeName(el));
      ok = false;
      continue;
    }
    out.push_back(el.as_string()->get());
    if (where != nullptr) where->push_back(el.source());
  }
  return ok;
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string_view lineOf(std::string_view text, size_t line) {
  size_t pos = 0;
  for (size_t i = 1; i < line && pos != std::string_view::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string_view::npos) ++pos;
  }
  if (pos == std::string_view::npos || pos > text.size()) return {};
  return text.substr(pos, text.find('\n', pos) - pos);
}

/// For `key = bare words` (an unquoted value): how to write it as a string.
std::string unquotedValueHint(std::string_view line) {
  line = line.substr(0, line.find('#'));
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) return {};
  std::string_view key = trim(line.substr(0, eq));
  std::string_view value = trim(line.substr(eq + 1));
  bool keyOk =
      !key.empty() && key.find_first_not_of(
                          "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == std::string_view::npos;
  if (!keyOk || value.empty() ||
      std::string_view("\"'[{").find(value[0]) != std::string_view::npos || value == "true" ||
      value == "false") {
    return {};
  }
  std::string type;
  for (const KeySpec& k : configSchema()) {
    if (k.path == key || k.path.ends_with("." + std::string(key))) type = std::string(k.type);
  }
  bool numberAndUnit = std::isdigit(static_cast<unsigned char>(value[0])) &&
                       value.find_first_not_of("0123456789 ") != std::string_view::npos;
  std::string fix = std::string(key) + " = \"" + std::string(value) + "\"";
  if (type == "size" || type == "duration" || numberAndUnit) {
    return "sizes and durations are strings: " + fix;
  }
  return "text values are strings in quotes: " + fix;
}
}  // namespace

std::string describeParseError(std::string_view description, std::string_view text, size_t line) {
  std::string what(description);
  // toml++ says "Error while parsing X: ...": "error:" is already printed.
  if (what.starts_with("Error while parsing")) what = "invalid TOML " + what.substr(6);
  std::string hint = unquotedValueHint(lineOf(text, line));
  return hint.empty() ? what : what + "; " + hint;
}

void checkUnknownKeys(TomlReader& reader, const toml::table& root) {
  checkTable(reader, root, "");
}

}  // namespace portcullis::config
