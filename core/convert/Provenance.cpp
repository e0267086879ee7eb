#include "core/convert/Provenance.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace ckptconv::convert {

std::map<std::string, std::string> provenance(const core::ConversionReport& report,
                                              const std::vector<std::pair<std::string, std::string>>& options,
                                              const core::CheckpointIndex& index) {
    nlohmann::ordered_json user = nlohmann::ordered_json::object();
    for (const auto& [k, v] : options)
        if (k.rfind("pipeline.", 0) != 0 && k.rfind("source.", 0) != 0) user[k] = v; // the host's own are not
    nlohmann::ordered_json sources = nlohmann::ordered_json::array();
    for (const auto& f : index.files)
        sources.push_back({std::filesystem::path(f->path()).filename().string(), f->size()});
    return {{"ckptconv.version", CKPTCONV_VERSION},
            {"ckptconv.plugin", report.plugin + (report.plugin_version.empty() ? "" : "@" + report.plugin_version)},
            {"ckptconv.source_format", report.format_version},
            {"ckptconv.variant", report.variant},
            {"ckptconv.target", report.target},
            {"ckptconv.options", user.dump()},
            {"ckptconv.sources", sources.dump()}};
}

} // namespace ckptconv::convert
