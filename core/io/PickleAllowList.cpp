#include "core/io/PickleAllowList.hpp"

#include <unordered_map>

namespace ckptconv::core {
namespace {

bool numpy_multiarray(std::string_view module) {
    return module == "numpy.core.multiarray" || module == "numpy._core.multiarray";
}

bool is_scalar(const PyObject& o) {
    switch (o.kind) {
    case PyKind::None:
    case PyKind::Bool:
    case PyKind::Int:
    case PyKind::BigInt:
    case PyKind::Float:
    case PyKind::Str:
    case PyKind::Bytes: return !o.unsafe;
    default: return false;
    }
}

const PyObject* arg(const PyObject& o, size_t i) {
    return o.args && o.args->kind == PyKind::Tuple && o.args->items.size() > i ? o.args->items[i].get() : nullptr;
}
size_t arg_count(const PyObject& o) { return o.args && o.args->kind == PyKind::Tuple ? o.args->items.size() : 0; }

bool all_ints(const PyObject& t) {
    if (t.kind != PyKind::Tuple) return false;
    for (const auto& v : t.items)
        if (v->kind != PyKind::Int) return false;
    return true;
}

// The argument shapes each allow-listed call may take; its contents are sanitized after.
bool call_shape_allowed(const PyObject& o) {
    if (!o.callable || o.callable->kind != PyKind::Global || o.kwargs || o.attribute_lookup) return false;
    const std::string& m = o.callable->text;
    const std::string& n = o.callable->name;
    if (!output_may_name(m, n)) return false;
    const size_t argc = arg_count(o);
    const PyObject* a0 = arg(o, 0);
    const PyObject* a1 = arg(o, 1);
    const bool no_items = o.items.empty() && o.entries.empty();
    if (m == "argparse" && n == "Namespace")
        return o.via_newobj && argc == 0 && no_items && (!o.state || o.state->kind == PyKind::Dict);
    if (!no_items && !(m == "collections" && (n == "defaultdict" || n == "Counter"))) return false;
    if (o.state && !(m == "numpy" && n == "dtype") && !(numpy_multiarray(m) && n == "_reconstruct")) return false;
    if (m == "torch" && n == "Size") return argc == 1 && all_ints(*a0);
    if (m == "torch" && n == "device")
        return (argc == 1 || argc == 2) && a0->kind == PyKind::Str && (argc == 1 || a1->kind == PyKind::Int);
    if (m == "torch.serialization" && n == "_get_layout") return argc == 1 && a0->kind == PyKind::Str;
    if (m == "builtins" && (n == "set" || n == "frozenset")) return argc <= 1 && (!a0 || a0->kind == PyKind::List);
    if (m == "builtins" && n == "complex") return argc == 2 && a0->kind == PyKind::Float && a1->kind == PyKind::Float;
    if (m == "collections" && n == "defaultdict")
        return argc == 0 ||
               (argc == 1 && (a0->kind == PyKind::None || (a0->kind == PyKind::Global && a0->text == "builtins")));
    if (m == "collections" && n == "Counter") return argc == 0 || (argc == 1 && a0->kind == PyKind::Dict);
    if (m == "_codecs" && n == "encode")
        return argc == 2 && a0->kind == PyKind::Str && a1->kind == PyKind::Str && a1->text == "latin1";
    if (m == "numpy" && n == "dtype") return argc == 3 && a0->kind == PyKind::Str;
    if (numpy_multiarray(m) && n == "scalar") return argc == 2 && a0->kind == PyKind::Object;
    if (numpy_multiarray(m) && n == "_reconstruct")
        return argc == 3 && a0->kind == PyKind::Global && a0->text == "numpy" && a0->name == "ndarray" &&
               a1->kind == PyKind::Tuple;
    return false;
}

class Sanitizer {
  public:
    SanitizedTree result;

    // The kept form of `node` (itself when nothing under it changes), or null when dropped.
    PyRef keep(const PyRef& node, const std::string& path) {
        if (auto it = done_.find(node.get()); it != done_.end()) return it->second;
        PyRef kept = decide(node, path);
        done_[node.get()] = kept;
        return kept;
    }

  private:
    PyRef drop(const PyObject& node, const std::string& path) {
        const uint64_t tensors = count_reachable_tensors(node, true);
        result.dropped_tensors += tensors;
        std::string what = node.unsafe ? "an unsafe part removed by --drop-unsafe" : type_name(node);
        if (tensors) what += ", holding " + std::to_string(tensors) + " tensors";
        result.dropped.push_back((path.empty() ? "<top level>" : path) + " (" + what + ")");
        return nullptr;
    }

    static std::string child(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }
    static std::string key_text(const PyObject& k) {
        return k.kind == PyKind::Str   ? k.text
               : k.kind == PyKind::Int ? std::to_string(k.integer)
                                       : "<" + type_name(k) + ">";
    }

    // Copies `node` only if a child changed; `changed` tells.
    PyRef sequence(const PyRef& node, const std::string& path, bool drop_items) {
        std::vector<PyRef> items;
        bool changed = false;
        for (size_t i = 0; i < node->items.size(); ++i) {
            PyRef k = keep(node->items[i], child(path, std::to_string(i)));
            changed |= k != node->items[i];
            if (!k && drop_items) continue;
            items.push_back(k ? k : PyObject::make(PyKind::None));
        }
        if (!changed) return node;
        PyRef copy = PyObject::make(node->kind);
        copy->items = std::move(items);
        return copy;
    }

    PyRef mapping(const PyRef& node, const std::string& path, bool as_dict) {
        std::vector<std::pair<PyRef, PyRef>> entries;
        bool changed = false;
        for (const auto& [k, v] : node->entries) {
            PyRef kk = keep(k, child(path, "<key>"));
            PyRef kv = kk ? keep(v, child(path, key_text(*k))) : nullptr;
            changed |= kk != k || kv != v;
            if (kk && kv) entries.emplace_back(kk, kv);
        }
        PyRef state = node->state ? keep(node->state, child(path, "<state>")) : nullptr;
        changed |= state != node->state;
        if (!changed) return node;
        PyRef copy = PyObject::make(node->kind);
        copy->ordered = node->ordered;
        copy->callable = node->callable;
        copy->args = node->args;
        copy->via_newobj = node->via_newobj;
        copy->state = state;
        for (auto& [k, v] : entries) {
            if (as_dict)
                copy->dict_set(k, v);
            else
                copy->entries.emplace_back(k, v);
        }
        return copy;
    }

    PyRef decide(const PyRef& node, const std::string& path) {
        switch (node->kind) {
        case PyKind::Tensor:
        case PyKind::Storage: return node;
        case PyKind::Global: return output_may_name(node->text, node->name) ? node : drop(*node, path);
        case PyKind::Tuple:
        case PyKind::List: return sequence(node, path, false);
        case PyKind::Set:
        case PyKind::FrozenSet: return sequence(node, path, true);
        case PyKind::Dict: return mapping(node, path, true);
        case PyKind::Object: {
            if (!call_shape_allowed(*node)) return drop(*node, path);
            // Arguments must survive whole: a half-kept argument tuple changes what the call means.
            if (node->args && keep(node->args, child(path, "<args>")) != node->args) return drop(*node, path);
            return mapping(node, path, false);
        }
        default: return is_scalar(*node) ? node : drop(*node, path);
        }
    }

    std::unordered_map<const PyObject*, PyRef> done_;
};

} // namespace

bool output_may_name(std::string_view module, std::string_view name) {
    if (module == "torch._utils")
        return name == "_rebuild_tensor" || name == "_rebuild_tensor_v2" || name == "_rebuild_tensor_v3" ||
               name == "_rebuild_parameter";
    if (module == "torch")
        return name == "Size" || name == "device" || name == "UntypedStorage" ||
               dtype_from_storage_class(name).has_value() || dtype_from_torch_name(name).has_value();
    if (module == "torch.serialization") return name == "_get_layout";
    if (module == "collections") return name == "OrderedDict" || name == "defaultdict" || name == "Counter";
    if (module == "builtins")
        return name == "set" || name == "frozenset" || name == "complex" || name == "list" || name == "dict" ||
               name == "int" || name == "float" || name == "str" || name == "tuple" || name == "bool";
    if (module == "argparse") return name == "Namespace";
    if (module == "_codecs") return name == "encode";
    if (module == "numpy") return name == "dtype" || name == "ndarray";
    if (numpy_multiarray(module)) return name == "scalar" || name == "_reconstruct";
    return false;
}

SanitizedTree sanitize_for_output(const PyRef& root) {
    Sanitizer s;
    PyRef kept = s.keep(root, "");
    s.result.tree = kept ? kept : PyObject::make(PyKind::None);
    return std::move(s.result);
}

} // namespace ckptconv::core
