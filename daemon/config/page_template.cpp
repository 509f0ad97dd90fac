#include "daemon/config/page_template.h"

#include <algorithm>

namespace portcullis::config {

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

namespace {

PageTemplate::Problem problemAt(std::string_view text, size_t offset, std::string message) {
  PageTemplate::Problem p;
  p.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
  const size_t lineStart = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  p.column =
      static_cast<int>(offset -
                       (lineStart == std::string_view::npos || offset == 0 ? 0 : lineStart + 1)) +
      1;
  p.message = std::move(message);
  return p;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string nameList(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "{{" : ", {{") + std::string(n) + "}}";
  return out;
}

}  // namespace

PageTemplate PageTemplate::compile(std::string_view text,
                                   const std::vector<std::string_view>& names, Problem& problem) {
  PageTemplate t;
  std::vector<size_t> open;  // indexes of kSectionBegin parts not yet closed
  size_t pos = 0;
  auto fail = [&](size_t at, std::string message) {
    problem = problemAt(text, at, std::move(message));
    return PageTemplate{};
  };
  while (pos < text.size()) {
    const size_t start = text.find("{{", pos);
    if (start == std::string_view::npos || start > pos) {
      t.parts_.push_back(Part{Kind::kText, std::string(text.substr(pos, start - pos)), 0, 0});
      if (start == std::string_view::npos) break;
    }
    const size_t close = text.find("}}", start + 2);
    if (close == std::string_view::npos) return fail(start, "'{{' without a closing '}}'");
    std::string_view inner = trim(text.substr(start + 2, close - start - 2));
    Kind kind = Kind::kValue;
    if (!inner.empty() && (inner.front() == '#' || inner.front() == '/')) {
      kind = inner.front() == '#' ? Kind::kSectionBegin : Kind::kSectionEnd;
      inner = trim(inner.substr(1));
    }
    const auto it = std::find(names.begin(), names.end(), inner);
    if (it == names.end()) {
      return fail(start,
                  "unknown placeholder {{" + std::string(inner) + "}}; known: " + nameList(names));
    }
    const auto index = static_cast<size_t>(it - names.begin());
    if (kind == Kind::kSectionEnd) {
      if (open.empty() || t.parts_[open.back()].index != index) {
        return fail(start, "{{/" + std::string(inner) + "}} closes no open {{#" +
                               std::string(inner) + "}}");
      }
      t.parts_[open.back()].end = t.parts_.size();
      open.pop_back();
    }
    if (kind == Kind::kSectionBegin) open.push_back(t.parts_.size());
    t.parts_.push_back(Part{kind, {}, index, 0});
    pos = close + 2;
  }
  if (!open.empty()) {
    return fail(text.size(),
                "{{#" + std::string(names[t.parts_[open.back()].index]) + "}} is never closed");
  }
  return t;
}

std::string PageTemplate::render(const std::vector<std::string>& values) const {
  static const std::string kEmpty;
  auto value = [&](size_t i) -> const std::string& {
    return i < values.size() ? values[i] : kEmpty;
  };
  std::string out;
  for (size_t i = 0; i < parts_.size(); ++i) {
    const Part& p = parts_[i];
    switch (p.kind) {
      case Kind::kText:
        out += p.text;
        break;
      case Kind::kValue:
        out += htmlEscape(value(p.index));
        break;
      case Kind::kSectionBegin:
        if (value(p.index).empty()) i = p.end;  // skip to the matching end
        break;
      case Kind::kSectionEnd:
        break;
    }
  }
  return out;
}

}  // namespace portcullis::config
