#include "daemon/config/source_set_ref.h"

#include "acl/policy_impl.h"

namespace portcullis::config {

std::optional<SourceSetRef> readSourceSetRef(TomlReader& r, const toml::table& t,
                                             std::string_view section, std::string_view example,
                                             const acl::Policy* policy) {
  SourceSetRef ref;
  if (!r.getString(t, "from", ref.name)) {
    r.error(t.source(), std::string(section) +
                            " needs 'from', the source set it applies to, e.g. "
                            "from = \"" +
                            std::string(example) + "\"");
    return std::nullopt;
  }
  if (policy == nullptr) return ref;
  const auto& sources = policy->impl().sources;
  std::string known;
  for (size_t s = 0; s < sources.size(); ++s) {
    if (sources[s].name == ref.name) {
      ref.index = s;
      return ref;
    }
    known += (known.empty() ? "" : ", ") + sources[s].name;
  }
  r.error(t.get("from")->source(),
          std::string(section) + " 'from' names '" + ref.name +
              "', which is not a source set (defined: " + (known.empty() ? "none" : known) + ")");
  return std::nullopt;
}

}  // namespace portcullis::config
