#include "core/index/LightningSave.hpp"

namespace ckptconv::core {
namespace {

PyRef lightning_state_dict(const CheckpointIndex& index) {
    if (!index.tree || index.tree->kind != PyKind::Dict || !index.tree->dict_get("pytorch-lightning_version"))
        return nullptr;
    const PyRef sd = index.tree->dict_get("state_dict");
    return sd && sd->kind == PyKind::Dict ? sd : nullptr;
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
    auto unwrapped = PyObject::make(PyKind::Dict);
    unwrapped->ordered = sd->ordered;
    for (const auto& [key, value] : sd->entries)
        unwrapped->dict_set(PyObject::make_str(key->text.substr(prefix.size())), value);
    index.tree->dict_set(PyObject::make_str("state_dict"), unwrapped);
    index.roots.clear();
    index.tensors.clear();
    index.extras.clear();
    index.storages.clear();
    build_index_from_tree(index);
    index.notes.push_back("Lightning save: the LightningModule attribute '" + prefix.substr(0, prefix.size() - 1) +
                          "' taken off the " + std::to_string(sd->entries.size()) + " state_dict keys");
}

} // namespace ckptconv::core
