#include "detect_cogvideox_vae.hpp"

namespace cogvideox_vae {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::TensorView;

// Keys every SAT VAE has; diffusers' VAE names them down_blocks/up_blocks/mid_block instead.
constexpr const char* kConvIn = "encoder.conv_in.conv.weight";
constexpr const char* kDown0 = "encoder.down.0.block.0.conv1.conv.weight";
constexpr const char* kMid = "encoder.mid.block_1.conv1.conv.weight";
constexpr const char* kUp0 = "decoder.up.0.block.0.conv1.conv.weight";
constexpr const char* kDecoderIn = "decoder.conv_in.conv.weight";
constexpr const char* kConvOut = "decoder.conv_out.conv.weight";

constexpr int32_t kScoreInsideDump = 60; // below cogvideox_sat's 100 on the same dump: the transformer wins

} // namespace

VaeDetection detect_cogvideox_vae(const IndexView& index) {
    VaeDetection out;
    out.detection = Detection::no("no SAT VAE keys (encoder.down.N.block.M, decoder.up.N, mid.block_1)");
    for (const auto& root : index.roots()) {
        for (const std::string prefix : {"", "first_stage_model."}) {
            const std::string p(root.path);
            const TensorView* conv_in = index.find(p, prefix + kConvIn);
            const TensorView* decoder_in = index.find(p, prefix + kDecoderIn);
            const TensorView* conv_out = index.find(p, prefix + kConvOut);
            if (!conv_in || !decoder_in || !conv_out || !index.find(p, prefix + kDown0) ||
                !index.find(p, prefix + kMid) || !index.find(p, prefix + kUp0))
                continue;
            if (conv_in->shape.size() != 5 || decoder_in->shape.size() != 5 || conv_out->shape.size() != 5) {
                out.detection = Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "",
                                          "SAT VAE key layout, but its convolutions are not 3-D (rank 5)"};
                continue;
            }
            SatVaeShape s;
            s.root = p;
            s.prefix = prefix;
            const auto& r = *index.root(p);
            const int64_t levels = ckptconv::sdk::count_layers(index, r, KeyPattern(prefix + "encoder.down.{i}."));
            const int64_t up_levels = ckptconv::sdk::count_layers(index, r, KeyPattern(prefix + "decoder.up.{i}."));
            s.layers_per_block =
                ckptconv::sdk::count_layers(index, r, KeyPattern(prefix + "encoder.down.0.block.{i}."));
            for (int64_t i = 0; i < levels; ++i) {
                const TensorView* conv1 =
                    index.find(p, prefix + "encoder.down." + std::to_string(i) + ".block.0.conv1.conv.weight");
                if (!conv1) break;
                s.block_channels.push_back(conv1->dim(0));
            }
            s.in_channels = conv_in->dim(1);
            s.latent_channels = decoder_in->dim(1);
            s.out_channels = conv_out->dim(0);
            if (static_cast<int64_t>(s.block_channels.size()) != levels || up_levels != levels) {
                out.detection = Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "",
                                          "SAT VAE key layout with " + std::to_string(levels) + " encoder and " +
                                              std::to_string(up_levels) + " decoder levels"};
                continue;
            }
            std::string channels;
            for (int64_t c : s.block_channels) channels += (channels.empty() ? "" : ",") + std::to_string(c);
            const std::string what = "SAT CogVideoX VAE (channels " + channels + ", " +
                                     std::to_string(s.layers_per_block) + " resnets per level, " +
                                     std::to_string(s.latent_channels) + " latent channels)";
            out.shape = s;
            out.detection = prefix.empty()
                                ? Detection{CKPTCONV_SCORE_CERTAIN, "1.0", "", "diffusers",
                                            what + " in root '" + p + "'; the variant is not in the weights"}
                                : Detection{kScoreInsideDump, "1.0", "", "diffusers",
                                            what + " inside a SAT fine-tune dump (first_stage_model.*): pass "
                                                   "--plugin cogvideox_vae to extract it"};
            return out;
        }
    }
    return out;
}

} // namespace cogvideox_vae
