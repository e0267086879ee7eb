#include "rules_cogvideox_vae.hpp"

namespace cogvideox_vae {
namespace {

using ckptconv::sdk::Expr;
using ckptconv::sdk::KeyPattern;
using ckptconv::sdk::Shape;
using ckptconv::sdk::TargetKey;

// cogvideox.md 6.2, applied in order to the whole key (Python str.replace semantics).
const ckptconv::sdk::RenameTable& rename_table() {
    static const ckptconv::sdk::RenameTable table = ckptconv::sdk::RenameTable()
                                                        .replace("block.", "resnets.")
                                                        .replace("down.", "down_blocks.")
                                                        .replace("downsample", "downsamplers.0")
                                                        .replace("upsample", "upsamplers.0")
                                                        .replace("nin_shortcut", "conv_shortcut")
                                                        .replace("encoder.mid.block_1", "encoder.mid_block.resnets.0")
                                                        .replace("encoder.mid.block_2", "encoder.mid_block.resnets.1")
                                                        .replace("decoder.mid.block_1", "decoder.mid_block.resnets.0")
                                                        .replace("decoder.mid.block_2", "decoder.mid_block.resnets.1");
    return table;
}

/** The keys of one diffusers CogVideoX resnet; decoder resnets use spatial norms conditioned on the latent. */
void resnet(std::vector<TargetKey>& k, const std::string& b, int64_t in, int64_t out, int64_t latent, bool spatial) {
    auto norm = [&](const std::string& name, int64_t c) {
        if (!spatial) {
            k.push_back({b + name + ".weight", {c}});
            k.push_back({b + name + ".bias", {c}});
            return;
        }
        k.push_back({b + name + ".norm_layer.weight", {c}});
        k.push_back({b + name + ".norm_layer.bias", {c}});
        for (const char* conv : {".conv_y.conv", ".conv_b.conv"}) {
            k.push_back({b + name + conv + ".weight", {c, latent, 1, 1, 1}});
            k.push_back({b + name + conv + ".bias", {c}});
        }
    };
    norm("norm1", in);
    k.push_back({b + "conv1.conv.weight", {out, in, 3, 3, 3}});
    k.push_back({b + "conv1.conv.bias", {out}});
    norm("norm2", out);
    k.push_back({b + "conv2.conv.weight", {out, out, 3, 3, 3}});
    k.push_back({b + "conv2.conv.bias", {out}});
    if (in != out) {
        k.push_back({b + "conv_shortcut.weight", {out, in, 1, 1, 1}});
        k.push_back({b + "conv_shortcut.bias", {out}});
    }
}

void conv(std::vector<TargetKey>& k, const std::string& name, Shape weight) {
    const int64_t out = weight[0];
    k.push_back({name + ".weight", std::move(weight)});
    k.push_back({name + ".bias", {out}});
}

std::string int_list(const std::vector<int64_t>& values) {
    std::vector<std::string> items;
    for (int64_t v : values) items.push_back(std::to_string(v));
    return ckptconv::sdk::json_array(items);
}

std::string repeated(const char* text, size_t n) {
    return ckptconv::sdk::json_array(std::vector<std::string>(n, ckptconv::sdk::json_string(text)));
}

} // namespace

std::vector<TargetKey> diffusers_vae_keys(const SatVaeShape& s) {
    const auto& ch = s.block_channels;
    const auto levels = ch.size();
    const int64_t latent = s.latent_channels;
    std::vector<TargetKey> k;
    conv(k, "encoder.conv_in.conv", {ch[0], s.in_channels, 3, 3, 3});
    for (size_t i = 0; i < levels; ++i) {
        const std::string b = "encoder.down_blocks." + std::to_string(i) + ".";
        for (int64_t r = 0; r < s.layers_per_block; ++r)
            resnet(k, b + "resnets." + std::to_string(r) + ".", r == 0 && i > 0 ? ch[i - 1] : ch[i], ch[i], latent,
                   false);
        if (i + 1 < levels) conv(k, b + "downsamplers.0.conv", {ch[i], ch[i], 3, 3});
    }
    for (int r = 0; r < 2; ++r)
        resnet(k, "encoder.mid_block.resnets." + std::to_string(r) + ".", ch.back(), ch.back(), latent, false);
    k.push_back({"encoder.norm_out.weight", {ch.back()}});
    k.push_back({"encoder.norm_out.bias", {ch.back()}});
    conv(k, "encoder.conv_out.conv", {2 * latent, ch.back(), 3, 3, 3}); // mean and log-variance

    conv(k, "decoder.conv_in.conv", {ch.back(), latent, 3, 3, 3});
    for (int r = 0; r < 2; ++r)
        resnet(k, "decoder.mid_block.resnets." + std::to_string(r) + ".", ch.back(), ch.back(), latent, true);
    for (size_t j = 0; j < levels; ++j) { // up_blocks run from the deepest level up
        const int64_t out = ch[levels - 1 - j];
        const int64_t in = j == 0 ? ch.back() : ch[levels - j];
        const std::string b = "decoder.up_blocks." + std::to_string(j) + ".";
        for (int64_t r = 0; r <= s.layers_per_block; ++r)
            resnet(k, b + "resnets." + std::to_string(r) + ".", r == 0 ? in : out, out, latent, true);
        if (j + 1 < levels) conv(k, b + "upsamplers.0.conv", {out, out, 3, 3});
    }
    k.push_back({"decoder.norm_out.norm_layer.weight", {ch[0]}});
    k.push_back({"decoder.norm_out.norm_layer.bias", {ch[0]}});
    conv(k, "decoder.norm_out.conv_y.conv", {ch[0], latent, 1, 1, 1});
    conv(k, "decoder.norm_out.conv_b.conv", {ch[0], latent, 1, 1, 1});
    conv(k, "decoder.conv_out.conv", {s.out_channels, ch[0], 3, 3, 3});
    return k;
}

std::string diffusers_vae_config(const SatVaeShape& s, const cogvideox_family::ModelValues& v) {
    const size_t levels = s.block_channels.size();
    return ckptconv::sdk::json_object({
        {"_class_name", ckptconv::sdk::json_string("AutoencoderKLCogVideoX")},
        {"_diffusers_version", ckptconv::sdk::json_string("0.32.0")},
        {"act_fn", ckptconv::sdk::json_string("silu")},
        {"block_out_channels", int_list(s.block_channels)},
        {"down_block_types", repeated("CogVideoXDownBlock3D", levels)},
        {"force_upcast", "true"},
        {"in_channels", std::to_string(s.in_channels)},
        {"invert_scale_latents", v.invert_scale_latents ? "true" : "false"},
        {"latent_channels", std::to_string(s.latent_channels)},
        {"latents_mean", "null"},
        {"latents_std", "null"},
        {"layers_per_block", std::to_string(s.layers_per_block)},
        {"norm_eps", "1e-06"},
        {"norm_num_groups", "32"},
        {"out_channels", std::to_string(s.out_channels)},
        {"sample_height", "480"},
        {"sample_width", "720"},
        {"scaling_factor", v.vae_scaling_factor},
        {"shift_factor", "null"},
        {"temporal_compression_ratio", "4"},
        {"up_block_types", repeated("CogVideoXUpBlock3D", levels)},
        {"use_post_quant_conv", "false"},
        {"use_quant_conv", "false"},
    });
}

void plan_cogvideox_vae(const SatVaeShape& s, const ckptconv::sdk::IndexView& index,
                        const ckptconv::sdk::PlanRequest& request, ckptconv::sdk::Plan& plan) {
    const std::string chosen = cogvideox_family::chosen_variant(request);
    const cogvideox_family::ModelValues* variant = cogvideox_family::model_values(chosen);
    if (!variant)
        throw ckptconv::sdk::Error(
            CKPTCONV_E_INVALID_ARGUMENT,
            (chosen.empty()                  ? std::string("the VAE weights do not tell which model they belong to")
             : request.has_option("variant") ? "unknown VAE variant '" + chosen + "'"
                                             : "the transformer beside this VAE is a " + chosen +
                                                   " model, which does not tell the VAE's scaling factor") +
                ": " + cogvideox_family::model_value_choices());

    // diffusers builds every GroupNorm with norm_num_groups = 32: narrower or odd widths convert, but no
    // AutoencoderKLCogVideoX can be built to load them.
    std::string unbuildable;
    for (const int64_t c : s.block_channels)
        if (c % 32 != 0) unbuildable += (unbuildable.empty() ? "" : ", ") + std::to_string(c);
    if (!unbuildable.empty())
        plan.note("block widths " + unbuildable +
                  " are not multiples of norm_num_groups 32: diffusers cannot build "
                  "an AutoencoderKLCogVideoX to load this VAE (a real CogVideoX VAE has 128, 256, 256, 512)");

    const KeyPattern up_level("decoder.up.{n}.{*rest}");
    const int64_t levels = static_cast<int64_t>(s.block_channels.size());
    std::map<std::string, Expr> outputs;
    plan.model_root(s.root); // the rest of a SAT engine save is training state
    for (const auto* t : index.tensors_of(*index.root(s.root))) {
        const std::string key(t->key);
        if (!ckptconv::sdk::starts_with(key, s.prefix)) {
            if (ckptconv::sdk::starts_with(key, "model.diffusion_model."))
                plan.drop(s.root, key, "transformer of a SAT fine-tune dump: convert it with cogvideox_sat");
            else if (ckptconv::sdk::starts_with(key, "conditioner."))
                plan.drop(s.root, key, "T5 text encoder of a SAT fine-tune dump: not part of the VAE");
            continue; // anything else stays unmapped, and the plan check names it
        }
        const std::string k = key.substr(s.prefix.size());
        if (k.find("loss") != std::string::npos) {
            plan.drop(s.root, key, "training loss (discriminator/LPIPS): SAT itself ignores it (ignore_keys: loss)");
            continue;
        }
        std::string name = rename_table().apply(k);
        // SAT numbers decoder levels by resolution (up.0 = full size); diffusers by the order they run.
        if (auto c = up_level.match(name))
            name = "decoder.up_blocks." + std::to_string(levels - 1 - c->integer("n")) + "." + (*c)["rest"];
        outputs[name] = plan.source(s.root, key);
    }
    ckptconv::sdk::emit_in_target_order(plan, "", diffusers_vae_keys(s), std::move(outputs));
    plan.target("diffusers", "vae");
    plan.file("vae/config.json", diffusers_vae_config(s, *variant));
    plan.keep_extras(false);
}

} // namespace cogvideox_vae
