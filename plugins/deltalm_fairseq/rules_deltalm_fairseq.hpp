// DeltaLM pretrained weights <-> the state dict fairseq's DeltaLM model loads (families.md A.3, A.4).
#pragma once

#include "detect_deltalm_fairseq.hpp"

#include <string>
#include <vector>

namespace deltalm_fairseq {

/** fairseq's DeltaLM state_dict() keys and shapes, in its order (395 for base at full size). */
std::vector<ckptconv::sdk::TargetKey> fairseq_keys(const DeltaLmShape& shape, int64_t vocab, int64_t positions);

/** The pretrained file's `weights` keys and shapes, in its order (392 for base, 772 for large). */
std::vector<ckptconv::sdk::TargetKey> pretrained_keys(const DeltaLmShape& shape, int64_t vocab, int64_t positions);

/**
 * "pretrained" -> {"model": fairseq state dict}: upgrade_state_dict_for_deltalm's renames,
 * version buffers [3.0], output_projection tied to the decoder embedding (and the two
 * embeddings kept as one when the source stores them once).
 * "fairseq" -> {"weights": pretrained layout}: the renames reversed; version buffers, the tied
 * output projection and the optimizer state dropped with reasons.
 * Both: --option vocab_size=N / positions=N cut or zero-pad embedding rows (default: keep).
 */
void plan_deltalm_fairseq(const DeltaLmShape& shape, const ckptconv::sdk::IndexView& index,
                          const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan);

} // namespace deltalm_fairseq
