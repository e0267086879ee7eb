// The ('storage', StorageClass, key, location, numel[, view_metadata]) tuple torch pickles.
#pragma once

#include "core/io/PyObject.hpp"

#include <memory>
#include <string>

namespace ckptconv::core {

struct TorchPersistentId {
    std::shared_ptr<StorageInfo> storage; ///< new record, not yet placed in the file
    bool has_view = false;                ///< legacy view_metadata (view_key, offset, size) present
    std::string view_key;
    int64_t view_offset = 0;
};

/** Parses a storage persistent id; throws BadInput naming `file` if it is not one. */
TorchPersistentId parse_torch_persistent_id(const PyObject& pid, const std::string& file);

} // namespace ckptconv::core
