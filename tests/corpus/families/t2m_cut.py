"""Text-to-motion checkpoints (families.md D, E.2): a 24-block gated T5 encoder (220 tensors,
`shared` tied to `encoder.embed_tokens`), an ELLA abstractor connector with 6 perceiver blocks
without MLP (69 tensors) and 397 others, in two state-dict roots, at reduced width."""
import collections

import torch


def t5_encoder(p, D=16, H=2, d_kv=4, F=24, blocks=24, vocab=64):
    sd = collections.OrderedDict()
    shared = torch.randn(vocab, D)
    sd[p + "shared.weight"] = shared
    sd[p + "encoder.embed_tokens.weight"] = shared  # tied: one storage, as T5EncoderModel saves it
    for n in range(blocks):
        b = f"{p}encoder.block.{n}.layer."
        for w in "qkv":
            sd[f"{b}0.SelfAttention.{w}.weight"] = torch.randn(H * d_kv, D)
        sd[f"{b}0.SelfAttention.o.weight"] = torch.randn(D, H * d_kv)
        if n == 0:
            sd[f"{b}0.SelfAttention.relative_attention_bias.weight"] = torch.randn(32, H)
        sd[f"{b}0.layer_norm.weight"] = torch.randn(D)
        sd[f"{b}1.DenseReluDense.wi_0.weight"] = torch.randn(F, D)
        sd[f"{b}1.DenseReluDense.wi_1.weight"] = torch.randn(F, D)
        sd[f"{b}1.DenseReluDense.wo.weight"] = torch.randn(D, F)
        sd[f"{b}1.layer_norm.weight"] = torch.randn(D)
    sd[p + "encoder.final_layer_norm.weight"] = torch.randn(D)
    return sd


def ella_abstractor(p, width=16, time_channel=8, time_embed=16, latents=4, input_dim=16, blocks=6):
    sd = collections.OrderedDict()
    sd[p + "time_embedding.linear_1.weight"] = torch.randn(time_embed, time_channel)
    sd[p + "time_embedding.linear_1.bias"] = torch.randn(time_embed)
    sd[p + "time_embedding.linear_2.weight"] = torch.randn(time_embed, time_embed)
    sd[p + "time_embedding.linear_2.bias"] = torch.randn(time_embed)
    c = p + "connector."
    sd[c + "latents"] = torch.randn(latents, width)
    sd[c + "time_aware_linear.weight"] = torch.randn(width, time_embed)
    sd[c + "time_aware_linear.bias"] = torch.randn(width)
    sd[c + "proj_in.weight"] = torch.randn(width, input_dim)
    sd[c + "proj_in.bias"] = torch.randn(width)
    for n in range(blocks):
        b = f"{c}perceiver_blocks.{n}."
        sd[b + "attn.in_proj_weight"] = torch.randn(3 * width, width)
        sd[b + "attn.in_proj_bias"] = torch.randn(3 * width)
        sd[b + "attn.out_proj.weight"] = torch.randn(width, width)
        sd[b + "attn.out_proj.bias"] = torch.randn(width)
        for ln in ("ln_1", "ln_2", "ln_ff"):
            sd[f"{b}{ln}.linear.weight"] = torch.randn(2 * width, time_embed)
            sd[f"{b}{ln}.linear.bias"] = torch.randn(2 * width)
    return sd


def motion_model(D=16):
    """The 397 tensors that stay: text projection, its norm and a 35-block denoiser."""
    sd = collections.OrderedDict()
    sd["t5_linear.weight"] = torch.randn(D, D)
    sd["t5_linear.bias"] = torch.randn(D)
    sd["text_ln.weight"] = torch.randn(D)
    sd["text_ln.bias"] = torch.randn(D)
    for name in ("unet.time_embed.0", "unet.time_embed.2", "unet.input_proj", "unet.out"):
        sd[name + ".weight"] = torch.randn(D, D)
        sd[name + ".bias"] = torch.randn(D)
    for n in range(35):
        b = f"unet.blocks.{n}."
        for m in ("conv1", "conv2"):
            sd[f"{b}{m}.weight"] = torch.randn(D, D, 3)
            sd[f"{b}{m}.bias"] = torch.randn(D)
        for m in ("norm1", "norm2"):
            sd[f"{b}{m}.weight"] = torch.randn(D)
            sd[f"{b}{m}.bias"] = torch.randn(D)
        sd[b + "time_proj.weight"] = torch.randn(D, D)
        sd[b + "time_proj.bias"] = torch.randn(D)
        sd[b + "cross_attn.in_proj_weight"] = torch.randn(3 * D, D)
    return sd


def t2m_state_dict():
    sd = collections.OrderedDict()
    sd.update(motion_model())
    sd.update(t5_encoder("t5_encoder.model."))
    sd.update(ella_abstractor("ella_model."))
    return sd


def write(out, save):
    torch.manual_seed(2)  # fixed per family, so rewriting one group leaves its bytes as they were
    ckpt = collections.OrderedDict()
    ckpt["model_ema"] = t2m_state_dict()
    ckpt["encoder"] = t2m_state_dict()
    ckpt["step"] = 120000
    ckpt["epoch"] = 37
    ckpt["lr"] = 1e-4
    counts = [len(ckpt[r]) for r in ("model_ema", "encoder")]
    assert counts == [686, 686], counts
    save(ckpt, f"{out}/t2m_cut/t2m_two_roots.pt")
    # Only the prefixes, none of the anchor keys: plausible, not certain.
    save({"t5_encoder.model.extra.weight": torch.zeros(2), "ella_model.extra.weight": torch.zeros(2)},
         f"{out}/t2m_cut/prefixes_only.pt")
