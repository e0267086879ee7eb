// The inert object tree a pickle decodes to. Nothing in it is ever executed:
// unknown classes stay as (callable, args, state) records that a writer can
// emit again, and tensors are metadata pointing at storages in the file.
#pragma once

#include "core/index/DType.hpp"
#include "core/index/Dims.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ckptconv::core {

class FileWriter;
struct PyObject;
using PyRef = std::shared_ptr<PyObject>;

/** A byte range of one mapped file, part of a gathered storage. */
struct StoragePiece {
    uint32_t file = 0;
    uint64_t offset = 0;
    uint64_t nbytes = 0;
};

/** One storage record: the raw bytes behind one or more tensors. */
struct StorageInfo {
    std::string key;    ///< "0", "1"... (zip) or the legacy pointer string
    uint64_t numel = 0; ///< elements (bytes for untyped storages)
    /** Set for storages a conversion computes: writes exactly `nbytes` bytes. Shared: one pointer per storage. */
    std::shared_ptr<const std::function<void(FileWriter&)>> produce;
    // Filled by the container reader:
    uint64_t data_offset = 0;     ///< byte offset of the storage data in that file
    uint64_t nbytes = 0;          ///< bytes available at data_offset
    DType dtype = DType::Invalid; ///< element type of the typed storage (U8 for untyped)
    uint32_t file = 0;            ///< which mapped file (sharded inputs)
    /// Set for a storage gathered from ranges of several files (DeepSpeed partitions): its data is the pieces
    /// in order, stored as `pieces_dtype` and read as `dtype` (rounded once where the two differ). Its one
    /// tensor covers it whole, row-major; `data_offset` is unused.
    std::vector<StoragePiece> pieces;
    DType pieces_dtype = DType::Invalid;
};

/** A tensor as the pickle describes it: a strided view into a storage. */
struct TensorInfo {
    std::shared_ptr<StorageInfo> storage;
    DType dtype = DType::Invalid;
    int64_t storage_offset = 0; ///< in elements
    Dims shape;
    Dims stride; ///< in elements
    bool requires_grad = false;
    bool is_parameter = false;
};

enum class PyKind {
    None,
    Bool,
    Int,    ///< fits int64
    BigInt, ///< two's-complement little-endian bytes in `text`
    Float,
    Str,
    Bytes,
    Tuple,
    List,
    Dict, ///< `ordered` tells OrderedDict from dict; `state` holds BUILD state (e.g. _metadata)
    Set,
    FrozenSet,
    Global, ///< a reference to module.name (never resolved)
    Object, ///< result of calling an unknown callable: callable + args (+ state, items)
    Tensor,
    Storage, ///< a persistent storage reference; `integer` = element offset of a legacy storage view
};

struct PyObject {
    PyKind kind = PyKind::None;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0;
    std::string text; ///< Str/Bytes/BigInt payload; Global module
    std::string name; ///< Global name
    bool ordered = false;
    bool decimal = false;     ///< BigInt: `text` is decimal digits (protocol 0 INT/LONG), not raw bytes
    std::vector<PyRef> items; ///< Tuple/List/Set elements; Object list items
    std::vector<std::pair<PyRef, PyRef>> entries; ///< Dict entries; Object dict items
    /// Dict: position of each str key, for overwrite; made on first use (most nodes are no dicts).
    std::unique_ptr<std::unordered_map<std::string, size_t>> str_keys;
    PyRef callable; ///< Object: the Global that was called
    PyRef args;     ///< Object: argument tuple
    PyRef kwargs;   ///< Object: NEWOBJ_EX keyword arguments
    PyRef state;    ///< Object/Dict: BUILD argument
    bool via_newobj = false;
    bool attribute_lookup =
        false;            ///< Object: builtins.getattr(<global>, 'member'), an enum member: data, never callable
    bool unsafe = false;  ///< None placeholder for a part --drop-unsafe removed; operations on it are ignored
    bool tracked = false; ///< PickleReader: registered for cycle release
    std::shared_ptr<TensorInfo> tensor;
    std::shared_ptr<StorageInfo> storage;

    PyObject() = default;
    PyObject(const PyObject&) = delete;
    PyObject& operator=(const PyObject&) = delete;
    /** Frees children iteratively: a chain of a million nested tuples must not overflow the stack. */
    ~PyObject();

    static PyRef make(PyKind kind) {
        // Containers that can be mutated into cycles get their own allocation, so a weak
        // reference kept to release cycles does not keep a freed node's memory alive.
        auto p = is_mutable(kind) ? PyRef(new PyObject) : std::make_shared<PyObject>();
        p->kind = kind;
        return p;
    }
    static bool is_mutable(PyKind k) {
        return k == PyKind::List || k == PyKind::Dict || k == PyKind::Set || k == PyKind::Object;
    }
    static PyRef make_int(int64_t v) {
        auto p = make(PyKind::Int);
        p->integer = v;
        return p;
    }
    static PyRef make_str(std::string v) {
        auto p = make(PyKind::Str);
        p->text = std::move(v);
        return p;
    }
    static PyRef make_global(std::string module, std::string name) {
        auto p = make(PyKind::Global);
        p->text = std::move(module);
        p->name = std::move(name);
        return p;
    }

    bool is_global(std::string_view module, std::string_view global_name) const {
        return kind == PyKind::Global && text == module && name == global_name;
    }

    /** The value of str key `key`, or null. */
    PyRef dict_get(const std::string& key) const {
        if (!str_keys) return nullptr;
        auto it = str_keys->find(key);
        return it == str_keys->end() ? nullptr : entries[it->second].second;
    }

    /** Inserts or overwrites a dict entry (Python semantics for str keys). */
    void dict_set(PyRef key, PyRef value) {
        if (key->kind == PyKind::Str) {
            if (!str_keys) str_keys = std::make_unique<std::unordered_map<std::string, size_t>>();
            auto [it, inserted] = str_keys->emplace(key->text, entries.size());
            if (!inserted) {
                entries[it->second].second = std::move(value);
                return;
            }
        }
        entries.emplace_back(std::move(key), std::move(value));
    }
};

/**
 * Frees the trees under `roots` without recursion, even when a pickle's memo
 * made them cyclic (a list that contains itself): every reachable node drops
 * its references to children first. The nodes must no longer be in use.
 */
void release_trees(std::vector<PyRef> roots, const PyObject* keep = nullptr);
// `keep`: a tree that stays in use; nodes reachable from it are left alone.

/** Releases the trees it holds (possibly cyclic) when it goes out of scope. */
class TreeGuard {
  public:
    TreeGuard() = default;
    TreeGuard(const TreeGuard&) = delete;
    TreeGuard& operator=(const TreeGuard&) = delete;
    ~TreeGuard() { release_trees(std::move(trees_)); }
    PyRef hold(PyRef tree) {
        trees_.push_back(tree);
        return tree;
    }

  private:
    std::vector<PyRef> trees_;
};

/**
 * The deepest object tree a checkpoint may hold. Readers refuse deeper trees
 * (and cycles) with check_tree_shape, so every later walk over a tree (index,
 * writers, printers) may recurse: it stays within this many frames.
 */
constexpr size_t kMaxTreeDepth = 200;

/**
 * Refuses (BadInput naming `file`) a tree nested deeper than kMaxTreeDepth or
 * holding a cycle (a container that contains itself, directly or not). Shared
 * subtrees (the pickle memo) are fine. Iterative: safe on any input.
 */
void check_tree_shape(const PyObject& root, const std::string& file);

/**
 * Distinct tensors reachable from `root` through items, entries and BUILD state (and, with
 * `through_calls`, call arguments), counting up to `stop_at`. Iterative, each node visited
 * once: a graph the memo shares costs its size, not its number of paths.
 */
uint64_t count_reachable_tensors(const PyObject& root, bool through_calls, uint64_t stop_at = UINT64_MAX);

/** "int", "str", "dict", "OrderedDict", "argparse.Namespace"... for reports. */
std::string type_name(const PyObject& obj);

} // namespace ckptconv::core
