#include "core/io/PyObject.hpp"

#include "core/util/Error.hpp"

#include <unordered_map>
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

// The n-th child of `node` in for_each_child order; `done` once past the last.
const PyObject* child_at(const PyObject& node, size_t n, bool& done) {
    done = false;
    if (n < node.items.size()) return node.items[n].get();
    n -= node.items.size();
    if (n < 2 * node.entries.size()) return (n % 2 ? node.entries[n / 2].second : node.entries[n / 2].first).get();
    n -= 2 * node.entries.size();
    switch (n) {
    case 0: return node.callable.get();
    case 1: return node.args.get();
    case 2: return node.kwargs.get();
    case 3: return node.state.get();
    default: done = true; return nullptr;
    }
}

} // namespace

PyObject::~PyObject() {
    // Children whose last reference dies here would free their own children recursively.
    // Instead the outermost destructor on this thread drains them one by one; nested
    // destructors only hand their children over.
    thread_local std::vector<PyRef>* pending = nullptr;
    std::vector<PyRef> mine;
    std::vector<PyRef>& out = pending ? *pending : mine;
    for (auto& v : items) out.push_back(std::move(v));
    for (auto& [k, v] : entries) {
        out.push_back(std::move(k));
        out.push_back(std::move(v));
    }
    for (PyRef* p : {&callable, &args, &kwargs, &state}) out.push_back(std::move(*p));
    if (pending) return;
    pending = &mine;
    while (!mine.empty()) {
        PyRef last = std::move(mine.back());
        mine.pop_back();
        last.reset(); // may run ~PyObject, which appends to `mine`
    }
    pending = nullptr;
}

uint64_t count_reachable_tensors(const PyObject& root, bool through_calls, uint64_t stop_at) {
    uint64_t found = 0;
    std::unordered_set<const PyObject*> seen{&root};
    std::vector<const PyObject*> todo{&root};
    auto visit = [&](const PyRef& child) {
        if (child && seen.insert(child.get()).second) todo.push_back(child.get());
    };
    while (!todo.empty() && found < stop_at) {
        const PyObject* n = todo.back();
        todo.pop_back();
        if (n->kind == PyKind::Tensor) ++found;
        for (const auto& v : n->items) visit(v);
        for (const auto& kv : n->entries) visit(kv.second);
        visit(n->state);
        if (through_calls) visit(n->args);
    }
    return found;
}

void check_tree_shape(const PyObject& root, const std::string& file) {
    enum : uint8_t { OnPath = 1, Done = 2 };
    std::unordered_map<const PyObject*, uint8_t> seen;
    struct Frame {
        const PyObject* node;
        size_t next;
    };
    std::vector<Frame> path{{&root, 0}};
    seen[&root] = OnPath;
    while (!path.empty()) {
        Frame& f = path.back();
        bool done = false;
        const PyObject* child = child_at(*f.node, f.next++, done);
        if (done) {
            seen[f.node] = Done;
            path.pop_back();
            continue;
        }
        if (!child) continue;
        const bool leaf = child->items.empty() && child->entries.empty() && !child->callable && !child->args &&
                          !child->kwargs && !child->state;
        if (leaf) continue;
        auto [it, fresh] = seen.emplace(child, OnPath);
        if (!fresh) {
            if (it->second == OnPath)
                throw bad_input(file, "object tree holds a cycle: a " + type_name(*child) + " that contains itself");
            continue; // shared and already checked
        }
        if (path.size() >= kMaxTreeDepth)
            throw bad_input(file, "object tree nested deeper than " + std::to_string(kMaxTreeDepth) + " levels");
        path.push_back({child, 0});
    }
}

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
        node->str_keys.reset();
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
