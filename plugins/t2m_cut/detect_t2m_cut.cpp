#include "detect_t2m_cut.hpp"

#include <algorithm>

namespace t2m_cut {
namespace {

using ckptconv::sdk::Detection;
using ckptconv::sdk::IndexView;
using ckptconv::sdk::KeyPattern;

constexpr std::string_view kT5 = "t5_encoder.model.";
constexpr std::string_view kElla = "ella_model.";
// One key each that only a T5 encoder and an ELLA perceiver connector have.
constexpr const char* kT5Anchor = "t5_encoder.model.encoder.block.0.layer.0.SelfAttention.q.weight";
constexpr const char* kEllaAnchor = "ella_model.connector.latents";

} // namespace

Detection detect_t2m_cut(const IndexView& index) {
    const KeyPattern t5_block("t5_encoder.model.encoder.block.{i}.");
    const KeyPattern ella_block("ella_model.connector.perceiver_blocks.{i}.");
    std::string roots;
    bool anchored = false;
    int64_t t5_blocks = 0, ella_blocks = 0;
    for (const auto& root : index.roots()) {
        if (!root.is_state_dict) continue;
        size_t t5 = 0, ella = 0;
        for (const auto* t : index.tensors_of(root)) {
            if (ckptconv::sdk::starts_with(t->key, kT5)) ++t5;
            if (ckptconv::sdk::starts_with(t->key, kElla)) ++ella;
        }
        if (t5 == 0 || ella == 0) continue;
        t5_blocks = std::max(t5_blocks, ckptconv::sdk::count_layers(index, root, t5_block));
        ella_blocks = std::max(ella_blocks, ckptconv::sdk::count_layers(index, root, ella_block));
        anchored = anchored || (index.find(root.path, kT5Anchor) && index.find(root.path, kEllaAnchor));
        roots += (roots.empty() ? "" : ", ") + std::string(root.path.empty() ? "<top>" : root.path) + " (" +
                 std::to_string(t5) + " t5_encoder.model.*, " + std::to_string(ella) + " ella_model.*)";
    }
    if (roots.empty()) return Detection::no("no state dict holds both t5_encoder.model.* and ella_model.* keys");
    const std::string shape = std::to_string(t5_blocks) + "-block T5, " + std::to_string(ella_blocks) + "-block ELLA";
    if (!anchored)
        return Detection{CKPTCONV_SCORE_PLAUSIBLE, "", "", "pt",
                         "t5_encoder.model.* and ella_model.* prefixes without the T5/ELLA anchor keys: " + roots};
    return Detection{CKPTCONV_SCORE_CERTAIN, "1.0", t5_blocks == 24 && ella_blocks == 6 ? "default" : "custom", "pt",
                     "text-to-motion checkpoint with " + shape + " in " + roots};
}

} // namespace t2m_cut
