// An input opened and its plugin chosen: the step every front end takes first. A model-parallel save is
// merged here, since only the family's plugin knows how its ranks split each tensor.
#pragma once

#include "core/convert/PluginChoice.hpp"
#include "core/index/CheckpointIndex.hpp"

#include <string>

namespace ckptconv::convert {

struct OpenedInput {
    core::CheckpointIndex index;
    PluginChoice chosen; ///< empty when `use_rules`
};

/**
 * Opens `file` and chooses its plugin (see choose_plugin; `plugin_spec` "" detects, "none" converts
 * nothing). A model-parallel save (SAT mp_rank_00..N-1) is first read as rank 0 alone to detect its
 * family (with --plugin none too), then read again with that plugin's partition rules merging every rank,
 * and the plugin is chosen on the whole model. Error(PlanRejected) when the family declares no rules.
 * A Lightning save whose model no plugin recognises is tried again with its LightningModule attribute
 * taken off the state_dict keys (see unwrap_lightning_module).
 */
OpenedInput open_input(const Session& session, const std::string& file, const core::ReadOptions& read_options,
                       const std::string& plugin_spec, const std::string& format_version, bool use_rules,
                       bool report_only = false);

} // namespace ckptconv::convert
