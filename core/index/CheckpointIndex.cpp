#include "core/index/CheckpointIndex.hpp"

#include "core/util/CheckedMath.hpp"
#include "core/util/Error.hpp"

#include <unordered_map>
#include <unordered_set>

namespace ckptconv::core {
namespace {

constexpr int kMaxDepth = static_cast<int>(kMaxTreeDepth);
constexpr size_t kMaxListedDictEntries = 64; // larger tensor-free dicts (vocabularies...) are one extra

std::string child_path(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
}

std::string key_text(const PyObject& key) {
    switch (key.kind) {
    case PyKind::Str: return key.text;
    case PyKind::Int: return std::to_string(key.integer);
    case PyKind::Bool: return key.boolean ? "True" : "False";
    case PyKind::None: return "None";
    default: return "<" + type_name(key) + ">";
    }
}

class TreeWalker {
  public:
    explicit TreeWalker(CheckpointIndex& index) : index_(index) {}

    void walk(const PyRef& node, const std::string& path, int depth) {
        if (depth > kMaxDepth)
            throw bad_input(index_.path, "object tree nested deeper than " + std::to_string(kMaxDepth) +
                                             " levels at '" + path + "'");
        // A container the memo shares is indexed once, where it is first met: walking every path
        // through a shared graph costs 2^depth (a tuple holding the previous one twice, 200 deep).
        if (!walked_.insert(node.get()).second) {
            index_.extras.push_back({path, "shared reference"});
            return;
        }
        switch (node->kind) {
        case PyKind::Dict: walk_entries(node->entries, path, depth, true); break;
        case PyKind::List:
        case PyKind::Tuple: walk_sequence(node->items, path, depth); break;
        case PyKind::Object:
            // Tensors inside pickled modules live in their state (e.g. _parameters).
            if (node->state && holds_tensor(node->state, depth)) walk(node->state, path, depth + 1);
            if (!node->items.empty()) walk_sequence(node->items, path, depth);
            if (!node->entries.empty()) walk_entries(node->entries, path, depth, false);
            break;
        default: break;
        }
    }

    void extra(const std::string& path, const PyObject& node) { index_.extras.push_back({path, type_name(node)}); }

  private:
    void walk_entries(const std::vector<std::pair<PyRef, PyRef>>& entries, const std::string& path, int depth,
                      bool is_dict) {
        bool all_tensors = !entries.empty();
        bool any_tensor = false;
        for (const auto& [k, v] : entries) {
            const bool t = v->kind == PyKind::Tensor;
            any_tensor |= t;
            all_tensors &= t && k->kind == PyKind::Str;
        }
        if (any_tensor) {
            IndexedRoot root{path, index_.tensors.size(), 0, is_dict && all_tensors};
            const auto root_id = static_cast<uint32_t>(index_.roots.size());
            index_.roots.push_back(root);
            for (const auto& [k, v] : entries)
                if (v->kind == PyKind::Tensor) add_tensor(root_id, key_text(*k), v);
            index_.roots.back().tensor_count = index_.tensors.size() - root.first_tensor;
        }
        for (const auto& [k, v] : entries) {
            if (v->kind == PyKind::Tensor) continue;
            const std::string p = child_path(path, key_text(*k));
            const bool small_dict =
                v->kind == PyKind::Dict && !v->entries.empty() && v->entries.size() <= kMaxListedDictEntries;
            if (holds_tensor(v, depth) || small_dict)
                walk(v, p, depth + 1);
            else
                extra(p, *v);
        }
    }

    void walk_sequence(const std::vector<PyRef>& items, const std::string& path, int depth) {
        bool any_tensor = false;
        for (const auto& v : items) any_tensor |= v->kind == PyKind::Tensor;
        if (any_tensor) {
            const auto root_id = static_cast<uint32_t>(index_.roots.size());
            index_.roots.push_back(IndexedRoot{path, index_.tensors.size(), 0, false});
            for (size_t i = 0; i < items.size(); ++i)
                if (items[i]->kind == PyKind::Tensor) add_tensor(root_id, std::to_string(i), items[i]);
            index_.roots.back().tensor_count = index_.tensors.size() - index_.roots.back().first_tensor;
        }
        for (size_t i = 0; i < items.size(); ++i) {
            if (items[i]->kind == PyKind::Tensor) continue;
            const std::string p = child_path(path, std::to_string(i));
            if (holds_tensor(items[i], depth))
                walk(items[i], p, depth + 1);
            else if (!path.empty() || items.size() < 64)
                extra(p, *items[i]);
        }
    }

    bool holds_tensor(const PyRef& node, int depth) {
        if (depth > kMaxDepth)
            throw bad_input(index_.path, "object tree nested deeper than " + std::to_string(kMaxDepth) + " levels");
        auto it = holds_.find(node.get());
        if (it != holds_.end()) return it->second;
        holds_[node.get()] = false; // a cycle back to this node adds nothing
        bool found = false;
        switch (node->kind) {
        case PyKind::Tensor: found = true; break;
        case PyKind::Dict:
            for (const auto& kv : node->entries)
                if ((found = holds_tensor(kv.second, depth + 1))) break;
            break;
        case PyKind::List:
        case PyKind::Tuple:
            for (const auto& v : node->items)
                if ((found = holds_tensor(v, depth + 1))) break;
            break;
        case PyKind::Object:
            found = node->state && holds_tensor(node->state, depth + 1);
            for (const auto& v : node->items) found = found || holds_tensor(v, depth + 1);
            for (const auto& kv : node->entries) found = found || holds_tensor(kv.second, depth + 1);
            break;
        default: break;
        }
        holds_[node.get()] = found;
        return found;
    }

    void add_tensor(uint32_t root, std::string key, const PyRef& node) {
        const TensorInfo& t = *node->tensor;
        const std::string where = child_path(index_.roots[root].path, key);
        check_extent(t, where);
        auto [it, inserted] = group_.emplace(t.storage.get(), index_.storages.size());
        if (inserted) index_.storages.push_back(t.storage);
        IndexedTensor entry;
        entry.key = std::move(key);
        entry.root = root;
        entry.info = node->tensor;
        entry.storage_group = it->second;
        index_.tensors.push_back(std::move(entry));
    }

    // The last byte a view reaches, computed with checked arithmetic, must lie inside its storage.
    void check_extent(const TensorInfo& t, const std::string& where) const {
        const uint32_t esize = element_size(t.dtype);
        if (esize == 0) throw bad_input(index_.path, "tensor '" + where + "' has an unknown dtype");
        const Checked math(index_.path, "tensor '", where, "' extent");
        uint64_t numel = 1;
        uint64_t last = Checked(index_.path, "tensor '", where, "' storage offset").non_negative(t.storage_offset);
        for (size_t d = 0; d < t.shape.size(); ++d) {
            const auto dim = static_cast<int64_t>(d);
            const uint64_t size = Checked(index_.path, "tensor '", where, "' size", dim).non_negative(t.shape[d]);
            const uint64_t stride = Checked(index_.path, "tensor '", where, "' stride", dim).non_negative(t.stride[d]);
            numel = math.mul(numel, size);
            if (size > 0) last = math.add(last, math.mul(size - 1, stride)); // largest element index reached
        }
        if (numel == 0) return;
        const uint64_t need = math.mul(math.add(last, 1), esize);
        if (need > t.storage->nbytes)
            throw bad_input(index_.path, "tensor '" + where + "' needs " + std::to_string(need) +
                                             " bytes of storage '" + t.storage->key + "' but the file holds " +
                                             std::to_string(t.storage->nbytes));
        (void)math.mul(numel, esize); // IndexedTensor::nbytes() relies on this product fitting (stride-0 views)
    }

    CheckpointIndex& index_;
    std::unordered_map<const PyObject*, bool> holds_;
    std::unordered_set<const PyObject*> walked_;
    std::unordered_map<const StorageInfo*, uint64_t> group_;
};

} // namespace

uint64_t IndexedTensor::numel() const {
    uint64_t n = 1;
    for (int64_t d : info->shape) n *= static_cast<uint64_t>(d);
    return n;
}

uint64_t CheckpointIndex::tensor_bytes() const {
    uint64_t total = 0;
    for (const auto& t : tensors) total += t.nbytes();
    return total;
}

std::string dotted_name(const std::string& root, const std::string& key) {
    return root.empty() ? key : root + "." + key;
}

std::string flat_name(const CheckpointIndex& index, const IndexedTensor& tensor) {
    const std::string& root = index.roots[tensor.root].path;
    return index.roots.size() > 1 ? dotted_name(root, tensor.key) : tensor.key;
}

void add_flat_tensor(CheckpointIndex& index, std::string key, std::shared_ptr<TensorInfo> info) {
    if (index.roots.empty()) index.roots.push_back(IndexedRoot{"", 0, 0, true});
    index.storages.push_back(info->storage);
    IndexedTensor entry;
    entry.key = std::move(key);
    entry.info = std::move(info);
    entry.storage_group = index.storages.size() - 1;
    index.tensors.push_back(std::move(entry));
    index.roots[0].tensor_count++;
}

void finish_flat_index(CheckpointIndex& index) {
    if (index.roots.empty()) index.extras.push_back({"", "dict"}); // an empty state dict
}

PyRef object_tree(const CheckpointIndex& index) {
    if (index.tree) return index.tree;
    auto dict = PyObject::make(PyKind::Dict);
    dict->ordered = true;
    for (const auto& t : index.tensors) {
        auto node = PyObject::make(PyKind::Tensor);
        node->tensor = t.info;
        dict->dict_set(PyObject::make_str(t.key), std::move(node));
    }
    return dict;
}

void build_index_from_tree(CheckpointIndex& index) {
    TreeWalker walker(index);
    if (index.tree->kind == PyKind::Tensor) {
        // torch.save(tensor): a single tensor, presented as root "" key "tensor".
        auto wrapper = PyObject::make(PyKind::Dict);
        wrapper->dict_set(PyObject::make_str("tensor"), index.tree);
        walker.walk(wrapper, "", 0);
    } else {
        walker.walk(index.tree, "", 0);
        if (index.roots.empty() && index.extras.empty()) walker.extra("", *index.tree);
    }
    std::vector<uint32_t> users(index.storages.size(), 0);
    for (const auto& t : index.tensors) ++users[t.storage_group];
    for (auto& t : index.tensors) t.shares_storage = users[t.storage_group] > 1;
}

} // namespace ckptconv::core
