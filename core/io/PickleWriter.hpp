// Emits a PyObject tree as the protocol-2 pickle torch.save writes, storages as persistent ids.
#pragma once

#include "core/io/PyObject.hpp"

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ckptconv::core {

class PickleWriter {
  public:
    /**
     * Pickles `root`. Storages are numbered "0", "1", ... in first-use order
     * (what torch.save does); tensors on one storage keep sharing it.
     */
    std::string write(const PyObject& root);

    /** The storages referenced, index = key. */
    const std::vector<std::shared_ptr<StorageInfo>>& storages() const { return storages_; }

  private:
    /** Marks the non-empty tuples with more than one parent: only those go through the memo. */
    void find_shared_tuples(const PyObject& root);
    void emit(const PyObject& obj);
    void emit_int(int64_t v);
    void emit_str(const std::string& s);
    void emit_global(const std::string& module, const std::string& name);
    void emit_tensor(const TensorInfo& t);
    void emit_storage_pid(const std::shared_ptr<StorageInfo>& s, DType dtype);
    void emit_empty_ordered_dict();
    void emit_items(const std::vector<PyRef>& items);
    void emit_entries(const std::vector<std::pair<PyRef, PyRef>>& entries);
    void put(const PyObject* obj);
    bool get(const PyObject* obj);
    void emit_memo_op(char one_byte_op, char four_byte_op, uint32_t idx);
    void op(char c) { out_.push_back(c); }

    std::string out_;
    std::unordered_map<const PyObject*, uint32_t> memo_;
    std::unordered_map<std::string, uint32_t> global_memo_;
    std::unordered_set<const PyObject*> shared_tuples_;
    uint32_t next_memo_ = 0;
    std::unordered_map<const StorageInfo*, std::string> keys_;
    std::vector<std::shared_ptr<StorageInfo>> storages_;
};

} // namespace ckptconv::core
