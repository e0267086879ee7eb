#include "core/convert/OpenedInput.hpp"

#include "core/host/AbiIndex.hpp"
#include "core/index/LightningSave.hpp"
#include "core/io/CheckpointOpener.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::convert {

OpenedInput open_input(const Session& session, const std::string& file, const core::ReadOptions& read_options,
                       const std::string& plugin_spec, const std::string& format_version, bool use_rules,
                       bool report_only) {
    OpenedInput in{core::open_checkpoint(file, read_options), {}};
    if (in.index.model_parallel_ranks > 1) {
        const std::string ranks = std::to_string(in.index.model_parallel_ranks);
        if (use_rules)
            throw core::Error(core::ExitCode::PlanRejected, file + " is a model-parallel save over " + ranks +
                                                                " ranks: merging them needs the family plugin's "
                                                                "partition rules, which a rules: config has not");
        const PluginChoice family =
            choose_plugin(session, core::AbiIndex(in.index), plugin_spec == "none" ? "" : plugin_spec, format_version);
        const core::PluginRecord& plugin = *family.chosen->plugin;
        if (plugin.partitions.empty())
            throw core::Error(core::ExitCode::PlanRejected, file + " is a model-parallel save over " + ranks +
                                                                " ranks, and plugin " + plugin.label() +
                                                                " declares no partition rules to merge them with");
        core::ReadOptions merged = read_options;
        merged.partitions = &plugin.partitions;
        merged.partitions_from = plugin.label();
        in.index = core::open_checkpoint(file, merged);
    }
    if (use_rules) return in;
    // A Lightning save no plugin recognises is tried again without its LightningModule attribute (`model.`).
    const std::string lightning = core::lightning_module_prefix(in.index);
    try {
        in.chosen = choose_plugin(session, core::AbiIndex(in.index), plugin_spec, format_version, report_only);
        if (lightning.empty() || in.chosen.chosen || in.chosen.no_plugin) return in;
    } catch (const core::Error& e) {
        if (lightning.empty() || e.code() != core::ExitCode::NoPlugin) throw;
    }
    core::unwrap_lightning_module(in.index, lightning);
    in.chosen = choose_plugin(session, core::AbiIndex(in.index), plugin_spec, format_version, report_only);
    return in;
}

} // namespace ckptconv::convert
