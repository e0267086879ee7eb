"""SAT CogVideoX VAEs (cogvideox.md 6.1) with the full key layout at reduced width, a 1.5
fine-tune dump holding transformer, T5 and VAE, and whole SAT folders (2.1) of 1.0 and 1.5 with
their T5 encoder folders."""
import collections

import torch

from families import t5_encoder

# diffusers' AutoencoderKLCogVideoX normalises in 32 groups, so a VAE it can build has widths that are
# multiples of 32; the pipeline folders carry one (the single-file fixture keeps narrower, unbuildable ones).
BUILDABLE_WIDTHS = (32, 64, 64, 96)  # changes width where the real (128, 256, 256, 512) does


def sat_vae(prefix="", ch=(4, 8, 8, 16), resnets=3, latent=4, loss=True, dtype=torch.float16):
    sd = collections.OrderedDict()

    def put(key, *shape):
        sd[prefix + key] = (torch.randn(*shape) * 0.02).to(dtype)

    def conv(name, out, inp, *kernel):
        put(name + ".weight", out, inp, *kernel)
        put(name + ".bias", out)

    def norm(name, c, spatial):
        if spatial:  # decoder norms are conditioned on the latent
            put(name + ".norm_layer.weight", c); put(name + ".norm_layer.bias", c)
            conv(name + ".conv_y.conv", c, latent, 1, 1, 1)
            conv(name + ".conv_b.conv", c, latent, 1, 1, 1)
        else:
            put(name + ".weight", c); put(name + ".bias", c)

    def resnet(b, inp, out, spatial):
        norm(b + "norm1", inp, spatial)
        conv(b + "conv1.conv", out, inp, 3, 3, 3)
        norm(b + "norm2", out, spatial)
        conv(b + "conv2.conv", out, out, 3, 3, 3)
        if inp != out:
            conv(b + "nin_shortcut", out, inp, 1, 1, 1)

    levels = len(ch)
    conv("encoder.conv_in.conv", ch[0], 3, 3, 3, 3)
    for i in range(levels):
        for r in range(resnets):
            resnet(f"encoder.down.{i}.block.{r}.", ch[i - 1] if r == 0 and i > 0 else ch[i], ch[i], False)
        if i + 1 < levels:
            conv(f"encoder.down.{i}.downsample.conv", ch[i], ch[i], 3, 3)
    resnet("encoder.mid.block_1.", ch[-1], ch[-1], False)
    resnet("encoder.mid.block_2.", ch[-1], ch[-1], False)
    put("encoder.norm_out.weight", ch[-1]); put("encoder.norm_out.bias", ch[-1])
    conv("encoder.conv_out.conv", 2 * latent, ch[-1], 3, 3, 3)
    conv("decoder.conv_in.conv", ch[-1], latent, 3, 3, 3)
    resnet("decoder.mid.block_1.", ch[-1], ch[-1], True)
    resnet("decoder.mid.block_2.", ch[-1], ch[-1], True)
    for n in range(levels):  # SAT numbers decoder levels by resolution: up.0 is the full-size one
        inp = ch[-1] if n == levels - 1 else ch[n + 1]
        for r in range(resnets + 1):
            resnet(f"decoder.up.{n}.block.{r}.", inp if r == 0 else ch[n], ch[n], True)
        if n > 0:
            conv(f"decoder.up.{n}.upsample.conv", ch[n], ch[n], 3, 3)
    norm("decoder.norm_out", ch[0], True)
    conv("decoder.conv_out.conv", 3, ch[0], 3, 3, 3)
    if loss:
        put("loss.logvar", 1)
        put("loss.perceptual_loss.net.slice1.0.weight", 4, 3, 3, 3)
        put("loss.discriminator.main.0.weight", 4, 3, 4, 4, 4)
        put("loss.discriminator.main.0.bias", 4)
    return sd


def write(out, save, sat_transformer, safetensors_bytes):
    torch.manual_seed(3)
    base = f"{out}/cogvideox_vae"
    vae = sat_vae()
    assert sum(not k.startswith("loss.") for k in vae) == 436, len(vae)
    save({"state_dict": vae}, f"{base}/3d-vae_tiny.pt")
    # A SAT 1.5 full fine-tune: the whole engine (transformer, T5 conditioner, VAE) in `module`.
    dump = sat_transformer(128, 2, 16, "1.5", dtype=torch.bfloat16)
    dump["conditioner.embedders.0.transformer.shared.weight"] = torch.randn(32, 16).to(torch.bfloat16)
    dump["conditioner.embedders.0.transformer.encoder.final_layer_norm.weight"] = torch.randn(16).to(torch.bfloat16)
    dump.update(sat_vae(prefix="first_stage_model.", loss=False, dtype=torch.bfloat16))
    save({"module": dump, "iteration": 500, "global_steps": 500}, f"{out}/cogvideox_sat/1.5/finetune_dump_tiny.pt")
    # A released-style SAT folder: transformer/<iter>/mp_rank_00_model_states.pt + latest, vae/3d-vae.pt,
    # and the T5 folder users assemble from a diffusers repo (target-loaders.md D.4).
    torch.manual_seed(4)
    vae = sat_vae(ch=BUILDABLE_WIDTHS)
    spiece = t5_encoder.spiece_model()
    folder = f"{base}/sat_folder_2b"
    save({"module": sat_transformer(1920 // 15, 2, 16, "1.0")}, f"{folder}/transformer/1000/mp_rank_00_model_states.pt")
    with open(f"{folder}/transformer/latest", "w") as f:
        f.write("1000\n")
    save({"state_dict": vae}, f"{folder}/vae/3d-vae.pt")
    t5_encoder.write_merged_folder(f"{folder}/t5-v1_1-xxl", spiece, safetensors_bytes)
    # The 1.5 SAT release layout: two transformers side by side, the VAE, and the T5 encoder as a
    # transformers folder, here a whole T5 (encoder and decoder) as google/t5-v1_1 publishes it.
    folder = f"{base}/sat_folder_1.5"
    for kind, channels, ofs in (("t2v", 16, False), ("i2v", 32, True)):
        tiny = sat_transformer(128, 2, channels, "1.5", ofs=ofs, dtype=torch.bfloat16)
        save({"module": tiny}, f"{folder}/transformer_{kind}/1000/mp_rank_00_model_states.pt")
        with open(f"{folder}/transformer_{kind}/latest", "w") as f:
            f.write("1000\n")
    save({"state_dict": vae}, f"{folder}/vae/3d-vae.pt")
    t5_encoder.write_full_t5_folder(f"{folder}/t5-v1_1-xxl", spiece, save)
