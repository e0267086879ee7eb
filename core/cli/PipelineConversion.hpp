// convert on a pipeline folder (e.g. a SAT release: transformer/ + vae/): each
// component detected and converted on its own, all written as one diffusers folder.
#pragma once

#include "core/cli/ConversionChoices.hpp"
#include "core/cli/PreparedConversion.hpp"
#include "core/cli/Session.hpp"
#include "core/io/CheckpointFolder.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ckptconv::cli {

struct PipelineSettings {
    std::string folder;
    std::string output;
    std::string to;                ///< "" or diffusers; anything else is refused
    std::vector<std::string> only; ///< --component: convert just these subfolders
    uint64_t shard_size = 0;
    bool dry_run = false;
    bool force = false;
    bool quiet = false;
    bool show_progress = false;
    std::optional<std::string> report; ///< JSON report path
};

/** A pipeline folder's components, detected, planned and checked; nothing written yet. */
struct PlannedPipeline {
    std::vector<std::string> names;                               ///< component subfolders, as conversions
    std::vector<std::unique_ptr<PreparedConversion>> conversions; ///< one per converted component
    std::vector<std::string> skipped;                             ///< "name: not converted (why)"
};

/**
 * Detects every component, refuses the folder when a component is ambiguous
 * or two claim the same plugin or output folder, then plans and checks them
 * all. Components no plugin recognises are left out and listed in `skipped`.
 *
 * Plugins see what the others detected through options the host sets after
 * the user's (so the user's win): `pipeline.plugins` (comma-separated ids of
 * every converted component) and `pipeline.<plugin id>.variant`.
 */
PlannedPipeline plan_pipeline(const Session& session, const core::PipelineFolder& folder,
                              const ConversionChoices& choices, const PipelineSettings& settings);

/** plan_pipeline, then every component written in one transaction (nothing when any fails). */
int convert_pipeline(const Session& session, const core::PipelineFolder& folder, const ConversionChoices& choices,
                     const PipelineSettings& settings);

} // namespace ckptconv::cli
