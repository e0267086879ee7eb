#include "core/io/PyObject.hpp"

#include <unordered_set>

namespace ckptconv::core {

namespace {

template <class F> void for_each_child(const PyObject& node, F&& f) {
    for (const auto& v : node.items) f(v);
    for (const auto& [k, v] : node.entries) {
        f(k);
        f(v);
    }
    for (const PyRef* p : {&node.callable, &node.args, &node.kwargs, &node.state}) f(*p);
}

} // namespace

void release_trees(std::vector<PyRef> roots, const PyObject* keep) {
    std::vector<PyRef> all;
    std::unordered_set<const PyObject*> seen;
    if (keep) { // everything reachable from `keep` is marked seen, so it is never cleared
        std::vector<const PyObject*> todo{keep};
        while (!todo.empty()) {
            const PyObject* n = todo.back();
            todo.pop_back();
            if (!n || !seen.insert(n).second) continue;
            for_each_child(*n, [&](const PyRef& c) { todo.push_back(c.get()); });
        }
    }
    while (!roots.empty()) {
        PyRef node = std::move(roots.back());
        roots.pop_back();
        if (!node || !seen.insert(node.get()).second) continue;
        for_each_child(*node, [&](const PyRef& c) { roots.push_back(c); });
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
