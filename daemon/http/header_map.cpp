#include "daemon/http/header_map.h"

#include <algorithm>

#include "daemon/http/char_class.h"

namespace portcullis::http {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) return false;
  }
  return true;
}

void HeaderMap::add(std::string name, std::string value) {
  fields_.push_back(HeaderField{std::move(name), std::move(value)});
}

size_t HeaderMap::remove(std::string_view name) {
  const auto it = std::remove_if(fields_.begin(), fields_.end(), [name](const HeaderField& f) {
    return equalsIgnoreCase(f.name, name);
  });
  const auto removed = static_cast<size_t>(fields_.end() - it);
  fields_.erase(it, fields_.end());
  return removed;
}

void HeaderMap::set(std::string name, std::string value) {
  // Keep the position of the first occurrence so forwarding order is stable.
  auto first = std::find_if(fields_.begin(), fields_.end(), [&name](const HeaderField& f) {
    return equalsIgnoreCase(f.name, name);
  });
  if (first == fields_.end()) {
    add(std::move(name), std::move(value));
    return;
  }
  const auto keep = static_cast<size_t>(first - fields_.begin());
  const auto it =
      std::remove_if(fields_.begin() + static_cast<std::ptrdiff_t>(keep) + 1, fields_.end(),
                     [&name](const HeaderField& f) { return equalsIgnoreCase(f.name, name); });
  fields_.erase(it, fields_.end());
  fields_[keep].name = std::move(name);
  fields_[keep].value = std::move(value);
}

bool HeaderMap::has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [name](const HeaderField& f) { return equalsIgnoreCase(f.name, name); });
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (equalsIgnoreCase(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

std::vector<std::string_view> HeaderMap::getAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_) {
    if (equalsIgnoreCase(f.name, name)) out.emplace_back(f.value);
  }
  return out;
}

size_t HeaderMap::count(std::string_view name) const {
  return static_cast<size_t>(
      std::count_if(fields_.begin(), fields_.end(),
                    [name](const HeaderField& f) { return equalsIgnoreCase(f.name, name); }));
}

std::optional<std::string> HeaderMap::getCombined(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& f : fields_) {
    if (!equalsIgnoreCase(f.name, name)) continue;
    if (out) {
      out->append(", ");
      out->append(f.value);
    } else {
      out.emplace(f.value);
    }
  }
  return out;
}

bool listContainsToken(std::string_view list, std::string_view token) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    if (equalsIgnoreCase(trimOws(list.substr(pos, comma - pos)), token)) return true;
    pos = comma + 1;
  }
  return false;
}

bool HeaderMap::hasToken(std::string_view name, std::string_view token) const {
  for (const auto& f : fields_) {
    if (equalsIgnoreCase(f.name, name) && listContainsToken(f.value, token)) return true;
  }
  return false;
}

}  // namespace portcullis::http
