#include "daemon/config/toml_reader.h"

#include <algorithm>

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
    out = static_cast<uint64_t>(v);
    return true;
  }
  if (!n->is_string()) {
    error(n->source(), quoteKey(key) + " must be a size such as \"512 KiB\" or an integer, not " +
                           typeName(*n));
    return false;
  }
  std::string err;
  auto s = parseSize(n->as_string()->get(), err);
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

void checkUnknownKeys(TomlReader& reader, const toml::table& root) {
  checkTable(reader, root, "");
}

}  // namespace portcullis::config
