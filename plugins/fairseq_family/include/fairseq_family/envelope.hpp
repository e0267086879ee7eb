// What every fairseq checkpoint carries besides `model` (target-loaders.md B.2, B.6): the keys
// fairseq's load_checkpoint_to_cpu requires, and the size fields both fairseq plugins write.
#pragma once

#include <ckptconv/sdk.hpp>

#include <string>

namespace fairseq_family {

/** One optimizer_history entry, as a trainer that never stepped would leave it: what _upgrade_state_dict reads. */
inline ckptconv::sdk::Value optimizer_history(const std::string& criterion_name) {
    using ckptconv::sdk::Value;
    return Value::list({Value::dict({{"criterion_name", criterion_name},
                                     {"optimizer_name", "FairseqAdam"},
                                     {"lr_scheduler_state", Value::dict({{"best", Value()}})},
                                     {"num_updates", 0}})});
}

/** extra_state with the train_iterator fairseq would otherwise create on load. */
inline ckptconv::sdk::Value extra_state() {
    using ckptconv::sdk::Value;
    return Value::dict({{"train_iterator", Value::dict({{"epoch", 1}, {"iterations_in_epoch", 0}})}});
}

/**
 * The sizes fairseq's transformer args carry for one side ("encoder" or
 * "decoder"): layers, width, FFN width, heads, learned positions, post-norm.
 */
inline ckptconv::sdk::Value::Members transformer_side(const std::string& side, int64_t layers, int64_t dim, int64_t ffn,
                                                      int64_t heads) {
    return {{side + "_layers", layers},         {side + "_embed_dim", dim},    {side + "_ffn_embed_dim", ffn},
            {side + "_attention_heads", heads}, {side + "_learned_pos", true}, {side + "_normalize_before", false}};
}

/** `members` followed by `more`: one Namespace from shared and model-specific fields. */
inline ckptconv::sdk::Value::Members join(ckptconv::sdk::Value::Members members,
                                          const ckptconv::sdk::Value::Members& more) {
    members.insert(members.end(), more.begin(), more.end());
    return members;
}

} // namespace fairseq_family
