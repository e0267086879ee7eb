#include "core/io/PyObject.hpp"

#include <unordered_set>

namespace ckptconv::core {

void release_trees(std::vector<PyRef> roots) {
    std::vector<PyRef> all;
    std::unordered_set<const PyObject*> seen;
    while (!roots.empty()) {
        PyRef node = std::move(roots.back());
        roots.pop_back();
        if (!node || !seen.insert(node.get()).second) continue;
        for (const auto& v : node->items) roots.push_back(v);
        for (const auto& [k, v] : node->entries) {
            roots.push_back(k);
            roots.push_back(v);
        }
        for (const PyRef* p : {&node->callable, &node->args, &node->kwargs, &node->state}) roots.push_back(*p);
        all.push_back(std::move(node));
    }
    for (const auto& node : all) {
        node->items.clear();
        node->entries.clear();
        node->str_keys.clear();
        node->callable.reset();
        node->args.reset();
        node->kwargs.reset();
        node->state.reset();
    }
}

std::string type_name(const PyObject& obj) {
    switch (obj.kind) {
    case PyKind::None: return "None";
    case PyKind::Bool: return "bool";
    case PyKind::Int:
    case PyKind::BigInt: return "int";
    case PyKind::Float: return "float";
    case PyKind::Str: return "str";
    case PyKind::Bytes: return "bytes";
    case PyKind::Tuple: return "tuple";
    case PyKind::List: return "list";
    case PyKind::Dict: return obj.ordered ? "OrderedDict" : "dict";
    case PyKind::Set: return "set";
    case PyKind::FrozenSet: return "frozenset";
    case PyKind::Global: return "global " + obj.text + "." + obj.name;
    case PyKind::Object:
        if (obj.callable && obj.callable->kind == PyKind::Global) return obj.callable->text + "." + obj.callable->name;
        return "object";
    case PyKind::Tensor: return "tensor";
    case PyKind::Storage: return "storage";
    }
    return "object";
}

} // namespace ckptconv::core
