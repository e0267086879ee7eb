// The fingerprint of an Acme checkpoint: which root holds the model, its sizes and its format version.
#pragma once

#include <ckptconv/sdk.hpp>

#include <optional>
#include <string>

namespace acme_lm {

/** What detect() found and plan() builds on, read from names and shapes only. */
struct AcmeLayout {
    std::string root;           ///< the state dict holding the model ("model" in an Acme training save)
    std::string format_version; ///< "1": fused attn.qkv; "2": separate attn.q/k/v; "": not recognised
    int64_t layers = 0;
    int64_t width = 0;
    int64_t vocab = 0;
    int64_t positions = 0;
    std::string reason; ///< one line for `ckptconv detect`
};

/** The Acme model in `index`, if any state dict has the anchors (tok_emb, pos_emb, head, blocks.0.attn.proj). */
std::optional<AcmeLayout> find_acme_layout(const ckptconv::sdk::IndexView& index);

ckptconv::sdk::Detection detect_acme_lm(const ckptconv::sdk::IndexView& index);

} // namespace acme_lm
