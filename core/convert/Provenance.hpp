// What an output records about its making (target-loaders.md E.3): strings only, under a
// "ckptconv." namespace no loader reads.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/report/ConversionReport.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ckptconv::convert {

/**
 * ckptconv.version, .plugin (id@version), .source_format, .variant, .target, .options (the
 * user's, as a JSON object; the host's `pipeline.*` plumbing left out) and .sources (each
 * input file's name and size, as a JSON array).
 */
std::map<std::string, std::string> provenance(const core::ConversionReport& report,
                                              const std::vector<std::pair<std::string, std::string>>& options,
                                              const core::CheckpointIndex& index);

} // namespace ckptconv::convert
