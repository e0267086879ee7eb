// Fingerprint of a SAT (SwissArmyTransformer) CogVideoX transformer checkpoint.
#pragma once

#include <ckptconv/sdk.hpp>

#include <string>

namespace cogvideox_sat {

/** What the weights say about the model; every field inferred from shapes. */
struct SatTransformerShape {
    std::string root;    ///< root holding the weights ("module", "" ...)
    std::string prefix;  ///< "model.diffusion_model." or "" (already unwrapped)
    std::string version; ///< "1.0" (Conv2d patch embed) or "1.5" (Linear)
    std::string variant; ///< 2b, 5b, 5b-i2v, 1.5-5b, 1.5-5b-i2v or custom
    int64_t hidden = 0;  ///< D
    int64_t layers = 0;
    int64_t heads = 0; ///< D / q-norm size
    int64_t head_dim = 0;
    int64_t in_channels = 0;
    int64_t out_dim = 0; ///< final linear rows: 64 (1.0) or 128 (1.5)
    int64_t time_embed_dim = 0;
    int64_t text_dim = 0;
    bool learned_pos_embedding = false; ///< mixins.pos_embed.pos_embedding present
    ckptconv::sdk::Shape pos_embedding_shape;
    bool ofs_embedding = false;
    int64_t ofs_dim = 0;          ///< ofs_embed.0.weight columns (512 in 1.5-I2V)
    bool lora = false;            ///< SAT LoRA wrapper keys (.original., matrix_A/B)
    bool consistent = false;      ///< the sizes cross-check (out dim, heads x head width, layers): detection is certain
    bool diffusers_names = false; ///< already diffusers' keys (a CogVideo finetune/ save): only config.json is new
};

/** Detection result plus the inferred shape (empty root when not recognised). */
struct SatDetection {
    ckptconv::sdk::Detection detection;
    SatTransformerShape shape;
};

SatDetection detect_cogvideox_sat(const ckptconv::sdk::IndexView& index);

} // namespace cogvideox_sat
