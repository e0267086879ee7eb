#include "core/host/PluginPlanner.hpp"

#include "core/plan/TrainingState.hpp"

#include "core/host/HostCall.hpp"
#include "core/host/RuleSource.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "core/util/Error.hpp"

namespace ckptconv::core {

Plan plan_with_plugin(const CheckpointIndex& index, const AbiIndex& abi, const Candidate& candidate,
                      const std::string& output_format, const std::vector<std::pair<std::string, std::string>>& options,
                      const RuleSet* user_rules) {
    const PluginRecord& plugin = *candidate.plugin;
    PlanBuilder builder(index);
    const RuleSource rules = rule_source_for(plugin.origin, user_rules);
    ckptconv_call call(plugin.id, &builder, &rules);
    std::vector<ckptconv_option_v1> opts;
    for (const auto& [k, v] : options) opts.push_back({k.c_str(), v.c_str()});
    const ckptconv_plan_request_v1 request{sizeof(ckptconv_plan_request_v1),   candidate.format_version.c_str(),
                                           candidate.variant.c_str(),          output_format.c_str(),
                                           static_cast<uint32_t>(opts.size()), opts.data()};
    int32_t rc = invoke_plugin(call, "plan", [&] {
        return plugin.descriptor.plan(plugin.state, host_services(), &call, abi.view(), &request);
    });
    if (rc == CKPTCONV_OK && call.error_status != CKPTCONV_OK)
        rc = call.error_status; // an op failed but the plugin ignored it
    if (rc != CKPTCONV_OK) {
        const ExitCode code =
            rc == CKPTCONV_E_INTERNAL || rc == CKPTCONV_E_NOMEM ? ExitCode::Internal : ExitCode::PlanRejected;
        const std::string format =
            candidate.format_version.empty() ? "format unknown" : "format " + candidate.format_version;
        throw Error(code, index.path + ": plugin " + plugin.label() + " (" + format + "): " + call.error_text(rc));
    }
    Plan plan = builder.take();
    drop_training_state(index, plan);
    return plan;
}

} // namespace ckptconv::core
