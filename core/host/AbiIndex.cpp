#include "core/host/AbiIndex.hpp"

namespace ckptconv::core {

AbiIndex::AbiIndex(const CheckpointIndex& index) {
    roots_.reserve(index.roots.size());
    for (const auto& r : index.roots)
        roots_.push_back(ckptconv_root_v1{r.path.c_str(), r.first_tensor, r.tensor_count,
                                          r.is_state_dict ? uint32_t{CKPTCONV_ROOT_STATE_DICT} : 0u});
    tensors_.reserve(index.tensors.size());
    for (const auto& t : index.tensors) {
        uint32_t flags = 0;
        if (t.info->is_parameter) flags |= CKPTCONV_TENSOR_PARAMETER;
        if (t.shares_storage) flags |= CKPTCONV_TENSOR_SHARES_STORAGE;
        tensors_.push_back(ckptconv_tensor_v1{t.key.c_str(), t.root, static_cast<uint32_t>(t.info->dtype),
                                              static_cast<uint32_t>(t.info->shape.size()), flags, t.info->shape.data(),
                                              t.storage_group});
    }
    extras_.reserve(index.extras.size());
    for (const auto& e : index.extras) extras_.push_back(ckptconv_extra_v1{e.path.c_str(), e.type.c_str()});

    view_.struct_size = sizeof(ckptconv_index_v1);
    view_.tensor_stride = sizeof(ckptconv_tensor_v1);
    view_.root_stride = sizeof(ckptconv_root_v1);
    view_.extra_stride = sizeof(ckptconv_extra_v1);
    view_.file_path = index.path.c_str();
    view_.container = index.container.c_str();
    view_.tensor_count = tensors_.size();
    view_.tensors = tensors_.data();
    view_.root_count = static_cast<uint32_t>(roots_.size());
    view_.roots = roots_.data();
    view_.extra_count = static_cast<uint32_t>(extras_.size());
    view_.extras = extras_.data();
}

} // namespace ckptconv::core
