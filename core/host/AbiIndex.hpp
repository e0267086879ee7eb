// The C view (ckptconv_index_v1) of a CheckpointIndex that plugins receive.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <ckptconv/ckptconv_plugin.h>

#include <string>
#include <vector>

namespace ckptconv::core {

/** Owns the arrays behind the view; the view is valid while this object lives. */
class AbiIndex {
  public:
    explicit AbiIndex(const CheckpointIndex& index);
    AbiIndex(const AbiIndex&) = delete;
    AbiIndex& operator=(const AbiIndex&) = delete;

    const ckptconv_index_v1* view() const { return &view_; }

  private:
    std::vector<ckptconv_root_v1> roots_;
    std::vector<ckptconv_tensor_v1> tensors_;
    std::vector<ckptconv_extra_v1> extras_;
    std::vector<std::string> extra_types_;
    ckptconv_index_v1 view_{};
};

} // namespace ckptconv::core
