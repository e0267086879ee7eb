#include "core/convert/ConversionChoices.hpp"

#include "core/host/PluginPlanner.hpp"
#include "core/plan/RuleSet.hpp"

namespace ckptconv::convert {

core::Plan plan_conversion(const ConversionChoices& choices, const core::Config& config,
                           const core::CheckpointIndex& index, const core::AbiIndex& abi, const PluginChoice& chosen,
                           const std::string& format) {
    if (choices.use_rules) return core::plan_from_rules(index, *config.rules);
    return core::plan_with_plugin(index, abi, *chosen.chosen, format, choices.options,
                                  config.rules ? &*config.rules : nullptr);
}

} // namespace ckptconv::convert
