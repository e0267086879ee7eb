// Fingerprint of a DeltaLM checkpoint: the pretrained `weights` layout or the state
// dict fairseq's DeltaLM model holds after fine-tuning (families.md A, F).
#pragma once

#include <ckptconv/sdk.hpp>

#include <string>

namespace deltalm_fairseq {

enum class DeltaLmLayout { Pretrained, Fairseq };

/** What the weights say about the model; every size read from shapes. */
struct DeltaLmShape {
    DeltaLmLayout layout = DeltaLmLayout::Pretrained;
    std::string root; ///< "weights" (pretrained) or "model" (fairseq)
    int64_t encoder_layers = 0;
    int64_t decoder_layers = 0;
    int64_t hidden = 0; ///< D
    int64_t ffn = 0;    ///< F
    int64_t vocab = 0;  ///< embedding rows
    int64_t positions = 0;
    bool embedding_layer_norm = false; ///< base has it, large does not
    uint32_t dtype = 0;                ///< of the embeddings: what created buffers match
    std::string variant;               ///< base, large or custom
};

struct DeltaLmDetection {
    ckptconv::sdk::Detection detection;
    DeltaLmShape shape; ///< hidden == 0 when nothing was recognised
};

/** 100 for either layout (format version "pretrained" or "fairseq"); 50 when only the prefixes fit. */
DeltaLmDetection detect_deltalm_fairseq(const ckptconv::sdk::IndexView& index);

} // namespace deltalm_fairseq
