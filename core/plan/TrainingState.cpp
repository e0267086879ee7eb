#include "core/plan/TrainingState.hpp"

#include "core/plan/PlanChecker.hpp"

#include <map>
#include <set>

namespace ckptconv::core {
namespace {

// Top-level names as SAT/DeepSpeed, Megatron, fairseq and Lightning write them (training-saves.md 3.2, 5).
const std::map<std::string, std::string>& categories() {
    static const std::map<std::string, std::string> table = {
        {"random_rng_state", "RNG"},
        {"np_rng_state", "RNG"},
        {"torch_rng_state", "RNG"},
        {"cuda_rng_state", "RNG"},
        {"rng_tracker_states", "RNG"},
        {"rng_state", "RNG"},
        {"optimizer", "optimizer"},
        {"optimizer_states", "optimizer"},
        {"last_optimizer_state", "optimizer"},
        {"optimizer_history", "optimizer"},
        {"optimizer_state_dict", "optimizer"},
        {"lr_scheduler", "scheduler"},
        {"lr_schedulers", "scheduler"},
        {"client_lr_scheduler", "scheduler"},
        {"opt_param_scheduler", "scheduler"},
        {"iteration", "step counters"},
        {"global_steps", "step counters"},
        {"global_samples", "step counters"},
        {"skipped_steps", "step counters"},
        {"global_step", "step counters"},
        {"epoch", "step counters"},
        {"buffer_names", "DeepSpeed bookkeeping"},
        {"param_shapes", "DeepSpeed bookkeeping"},
        {"frozen_param_shapes", "DeepSpeed bookkeeping"},
        {"frozen_param_fragments", "DeepSpeed bookkeeping"},
        {"shared_params", "DeepSpeed bookkeeping"},
        {"sparse_tensor_module_names", "DeepSpeed bookkeeping"},
        {"csr_tensor_module_names", "DeepSpeed bookkeeping"},
        {"dp_world_size", "DeepSpeed bookkeeping"},
        {"mp_world_size", "DeepSpeed bookkeeping"},
        {"ds_config", "DeepSpeed bookkeeping"},
        {"ds_version", "DeepSpeed bookkeeping"},
        {"data_sampler", "DeepSpeed bookkeeping"},
        {"random_ltd", "DeepSpeed bookkeeping"},
        {"loops", "trainer state"},
        {"callbacks", "trainer state"},
        {"pytorch-lightning_version", "trainer state"},
        {"MixedPrecision", "trainer state"}, // Lightning's AMP scaler under its precision plugin's class name
        {"MixedPrecisionPlugin", "trainer state"},
        {"NativeMixedPrecisionPlugin", "trainer state"},
        {"extra_state", "trainer state"},
        {"task_state", "trainer state"},
        {"criterion", "trainer state"},
        {"rerun_state_machine", "trainer state"},
        {"args", "configuration"},
        {"cfg", "configuration"},
        {"hyper_parameters", "configuration"},
        {"hparams_name", "configuration"},
        {"hparams_type", "configuration"},
        {"ema", "EMA copy"},
        {"model_ema", "EMA copy"},
        {"ema_state_dict", "EMA copy"},
        {"state_dict_ema", "EMA copy"},
    };
    return table;
}

/** The first dotted component of `path` and the one after it. */
std::pair<std::string, std::string> head_of(const std::string& path) {
    const size_t dot = path.find('.');
    if (dot == std::string::npos) return {path, ""};
    const size_t next = path.find('.', dot + 1);
    return {path.substr(0, dot), path.substr(dot + 1, next == std::string::npos ? next : next - dot - 1)};
}

bool under(const std::string& path, const std::string& root) {
    return root.empty() || path == root || path.rfind(root + ".", 0) == 0;
}

} // namespace

std::string training_state_category(const std::string& top, const std::string& second) {
    if (top == "extra_state" && (second == "ema" || second == "ema_fp32_params")) return "EMA copy";
    const auto it = categories().find(top);
    return it == categories().end() ? "" : it->second;
}

void drop_training_state(const CheckpointIndex& index, Plan& plan) {
    if (plan.model_roots.empty()) return;
    auto in_model = [&](const std::string& path) {
        for (const auto& r : plan.model_roots)
            if (under(path, r)) return true;
        return false;
    };
    std::vector<bool> handled(index.tensors.size(), false);
    for (const auto& o : plan.outputs)
        for (uint64_t s : sources_of(plan, o.expr)) handled[s] = true;
    for (const auto& d : plan.drops) handled[d.source_tensor] = true;

    std::map<std::string, std::string> left_out; // top-level entry -> category
    for (size_t t = 0; t < index.tensors.size(); ++t) {
        const IndexedTensor& tensor = index.tensors[t];
        const std::string& root = index.roots[tensor.root].path;
        if (in_model(root) || handled[t]) continue;
        // A tensor straight in the top-level dict is an entry of its own (e.g. torch_rng_state).
        const auto [top, second] = head_of(root.empty() ? tensor.key : root);
        const std::string category = training_state_category(top, root.empty() ? "" : head_of(root).second);
        if (category.empty()) continue; // nobody declared it: the plan check names it
        plan.drops.push_back(PlanDrop{t, "training state: " + category});
        left_out.emplace(top == "extra_state" && category == "EMA copy" ? top + "." + second : top, category);
    }
    for (const auto& e : index.extras) {
        if (e.path.empty() || in_model(e.path)) continue;
        const auto [top, second] = head_of(e.path);
        if (left_out.count(top)) continue;
        const std::string category = training_state_category(top, second);
        left_out.emplace(top, category.empty() ? "not recognised" : category);
    }
    for (auto& [name, category] : left_out) plan.training_state.emplace_back(name, category);
}

} // namespace ckptconv::core
