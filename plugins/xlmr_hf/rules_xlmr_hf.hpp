// XLM-R / RoBERTa: Hugging Face names <-> the state dict fairseq's RobertaModel holds (families.md B.3).
#pragma once

#include "detect_xlmr_hf.hpp"

#include <vector>

namespace xlmr_hf {

/** fairseq RobertaModel's state_dict() keys and shapes, in its order. */
std::vector<ckptconv::sdk::TargetKey> fairseq_keys(const XlmrShape& shape);

/** XLMRobertaForMaskedLM's state_dict() keys and shapes (no position_ids, no pooler), in its order. */
std::vector<ckptconv::sdk::TargetKey> hf_keys(const XlmrShape& shape);

/**
 * "hf" -> {"model": fairseq}: renames, version buffer [3.0], lm_head tied to the token
 * embedding when HF ties them (or left the duplicate out); token_type_embeddings,
 * pooler and position_ids dropped with reasons.
 * "fairseq" -> HF MaskedLM: the renames back (raw 2019 files: decoder. -> encoder.,
 * in_proj split in q, k, v), token_type_embeddings created as zeros, lm_head.decoder
 * tied to the word embeddings when fairseq ties them.
 */
void plan_xlmr_hf(const XlmrShape& shape, const ckptconv::sdk::IndexView& index,
                  const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan);

} // namespace xlmr_hf
