#include "core/index/LightningSave.hpp"

#include <algorithm>
#include <iterator>

namespace ckptconv::core {
namespace {

PyRef lightning_state_dict(const CheckpointIndex& index) {
    if (!index.tree || index.tree->kind != PyKind::Dict || !index.tree->dict_get("pytorch-lightning_version"))
        return nullptr;
    const PyRef sd = index.tree->dict_get("state_dict");
    return sd && sd->kind == PyKind::Dict ? sd : nullptr;
}

// A copy of `dict` whose str keys lose `prefix` (each carries it); the values are shared.
PyRef without_prefix(const PyObject& dict, const std::string& prefix) {
    auto out = PyObject::make(PyKind::Dict);
    out->ordered = dict.ordered;
    for (const auto& [key, value] : dict.entries)
        out->dict_set(PyObject::make_str(key->text.substr(prefix.size())), value);
    return out;
}

bool all_keys_start_with(const PyObject& dict, const std::string& prefix) {
    for (const auto& [key, value] : dict.entries)
        if (key->kind != PyKind::Str || key->text.size() <= prefix.size() ||
            key->text.compare(0, prefix.size(), prefix) != 0)
            return false;
    return !dict.entries.empty();
}

} // namespace

std::string lightning_module_prefix(const CheckpointIndex& index) {
    const PyRef sd = lightning_state_dict(index);
    if (!sd || sd->entries.empty()) return {};
    std::string prefix;
    for (const auto& [key, value] : sd->entries) {
        if (key->kind != PyKind::Str || value->kind != PyKind::Tensor) return {};
        const size_t dot = key->text.find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == key->text.size()) return {};
        const std::string_view head(key->text.data(), dot + 1);
        if (prefix.empty())
            prefix = head;
        else if (head != prefix)
            return {}; // several submodules: which one is the model is the user's call (a rules: config)
    }
    return prefix;
}

void unwrap_lightning_module(CheckpointIndex& index, const std::string& prefix) {
    const PyRef sd = lightning_state_dict(index);
    index.tree->dict_set(PyObject::make_str("state_dict"), without_prefix(*sd, prefix));
    index.roots.clear();
    index.tensors.clear();
    index.extras.clear();
    index.storages.clear();
    build_index_from_tree(index);
    index.notes.push_back("Lightning save: the LightningModule attribute '" + prefix.substr(0, prefix.size() - 1) +
                          "' taken off the " + std::to_string(sd->entries.size()) + " state_dict keys");
}

bool is_lightning_client_state(const PyObject& model_states) {
    return model_states.kind == PyKind::Dict && model_states.dict_get("pytorch-lightning_version") != nullptr;
}

PyRef lightning_checkpoint_from_deepspeed(const PyObject& model_states, const PyRef& module,
                                          std::vector<std::string>& notes) {
    // The keys Lightning's converter drops from the client state (training-saves.md 5.4).
    static const char* const kEngineKeys[] = {
        "module",        "optimizer",    "lr_scheduler",  "csr_tensor_module_names",
        "skipped_steps", "global_steps", "dp_world_size", "mp_world_size"};
    const std::string wrapper = "_forward_module.";
    const bool wrapped = all_keys_start_with(*module, wrapper);
    auto checkpoint = PyObject::make(PyKind::Dict);
    for (const auto& [key, value] : model_states.entries)
        if (key->kind != PyKind::Str ||
            std::none_of(std::begin(kEngineKeys), std::end(kEngineKeys), [&](const char* k) { return key->text == k; }))
            checkpoint->dict_set(key, value);
    checkpoint->dict_set(PyObject::make_str("state_dict"), wrapped ? without_prefix(*module, wrapper) : module);
    const PyRef version = model_states.dict_get("pytorch-lightning_version");
    notes.push_back("Lightning DeepSpeed strategy save (Lightning " +
                    (version && version->kind == PyKind::Str ? version->text : std::string("?")) +
                    "): presented as Lightning's converter writes it, the consolidated weights as `state_dict`" +
                    (wrapped ? " without their `_forward_module.` prefix" : "") + " beside the client state");
    return checkpoint;
}

} // namespace ckptconv::core
