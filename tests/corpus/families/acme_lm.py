"""Acme LM, the made-up family of the SDK's example plugin (sdk/examples/acme_lm): training saves
{"model": state_dict, "step", "config"} from Acme trainer 1.x (fused attn.qkv) and 2.x (separate
attn.q/k/v), 4 blocks at width 16, plus one whose attention fits neither version."""
import collections

import torch

D, VOCAB, POSITIONS, LAYERS = 16, 64, 32, 4


def acme_state_dict(attention, dtype=torch.float32):
    sd = collections.OrderedDict()
    sd["tok_emb.weight"] = torch.randn(VOCAB, D)
    sd["pos_emb"] = torch.randn(POSITIONS, D)
    for i in range(LAYERS):
        b = f"blocks.{i}."
        sd[b + "ln1.weight"] = torch.randn(D)
        sd[b + "ln1.bias"] = torch.randn(D)
        if attention == "fused":
            sd[b + "attn.qkv.weight"] = torch.randn(3 * D, D)
            sd[b + "attn.qkv.bias"] = torch.randn(3 * D)
        elif attention == "separate":
            for p in "qkv":
                sd[f"{b}attn.{p}.weight"] = torch.randn(D, D)
                sd[f"{b}attn.{p}.bias"] = torch.randn(D)
        else:  # grouped-query attention, which no Acme trainer wrote
            sd[b + "attn.q.weight"] = torch.randn(D, D)
            sd[b + "attn.kv.weight"] = torch.randn(D, D)
        sd[b + "attn.proj.weight"] = torch.randn(D, D)
        sd[b + "attn.proj.bias"] = torch.randn(D)
        sd[b + "attn.mask"] = torch.tril(torch.ones(POSITIONS, POSITIONS, dtype=torch.bool)).view(1, 1, POSITIONS,
                                                                                                  POSITIONS)
        sd[b + "ln2.weight"] = torch.randn(D)
        sd[b + "ln2.bias"] = torch.randn(D)
        sd[b + "mlp.fc1.weight"] = torch.randn(4 * D, D)
        sd[b + "mlp.fc1.bias"] = torch.randn(4 * D)
        sd[b + "mlp.fc2.weight"] = torch.randn(D, 4 * D)
        sd[b + "mlp.fc2.bias"] = torch.randn(D)
    sd["ln_f.weight"] = torch.randn(D)
    sd["ln_f.bias"] = torch.randn(D)
    sd["head.weight"] = torch.randn(VOCAB, D)
    for k, v in sd.items():
        if v.is_floating_point():
            sd[k] = v.to(dtype)
    return sd


def training_save(attention, dtype=torch.float32):
    config = {"width": D, "layers": LAYERS, "vocab": VOCAB, "attention": attention}
    return collections.OrderedDict(model=acme_state_dict(attention, dtype), step=5000, config=config)


def write(out, save):
    torch.manual_seed(7)  # fixed per family, so rewriting one group leaves its bytes as they were
    save(training_save("fused"), f"{out}/acme_lm/trainer1_fused.pt")
    save(training_save("separate", torch.bfloat16), f"{out}/acme_lm/trainer2_bf16.pt",
         _use_new_zipfile_serialization=False)
    save(training_save("grouped"), f"{out}/acme_lm/unknown_attention.pt")
