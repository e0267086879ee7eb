#!/usr/bin/python3
"""Full-size CogVideoX SAT checkpoints for benchmarks (same key layout as tests/corpus, cogvideox.md 3 and 6.1).

    /usr/bin/python3 bench/make_sat_checkpoint.py OUT.pt [--model 2b|5b]     # transformer only
    /usr/bin/python3 bench/make_sat_checkpoint.py OUT_DIR --folder [--model 2b]  # SAT release folder
    /usr/bin/python3 bench/make_sat_checkpoint.py OUT_DIR --t5                   # its T5 folder only
    /usr/bin/python3 bench/make_sat_checkpoint.py OUT.pt --lora 128               # a SAT LoRA engine save

2b: hidden 1920, 30 layers, fp16 (~3.4 GB). 5b: hidden 3072, 42 layers, bf16 (~11.1 GB).
--folder writes transformer/1000/mp_rank_00_model_states.pt, transformer/latest, a full-size
vae/3d-vae.pt (fp32, ~0.86 GB) and t5-v1_1-xxl/: a T5 v1.1-XXL encoder at full width with 5 of
its 24 blocks (bf16, ~2.2 GB, two Hub shards and their index, config.json, tokenizer files), as
users assemble it from a diffusers repo (target-loaders.md D.4). Values are random; only the sizes
matter for timing. --lora R writes the 2B transformer as a SAT LoRA fine-tune saves it: every layer's
query_key_value and dense wrapped (.original. plus matrix_A/B of rank R, fp16), inside an engine save with
its training state (training-saves.md 2.2, 5.1).
"""
import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "corpus"))
import torch  # noqa: E402
from families import t5_encoder  # noqa: E402
from families.cogvideox_vae import sat_vae  # noqa: E402
from families.training_saves import engine_state, wrap_lora  # noqa: E402
from make_corpus import sat_transformer  # noqa: E402

MODELS = {"2b": (1920, 30, torch.float16), "5b": (3072, 42, torch.bfloat16)}


def tensor_gb(sd):
    return sum(t.numel() * t.element_size() for t in sd.values()) / 1e9


def write_safetensors(tensors, path):
    """safetensors' layout, written tensor by tensor (no Debian package for safetensors)."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, t in tensors.items():
        n = t.numel() * t.element_size()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for t in tensors.values():
            t.view(torch.uint8).numpy().tofile(f)
    return offset


def write_t5(folder, blocks=5):
    """T5 v1.1-XXL widths (d_model 4096, d_ff 10240, 64 heads of 64, vocab 32128), `blocks` encoder blocks."""
    os.makedirs(folder, exist_ok=True)
    d, ff, inner, vocab = 4096, 10240, 4096, 32128

    def rand(*shape):
        return torch.empty(*shape, dtype=torch.bfloat16).uniform_(-0.05, 0.05)

    shards = [{"shared.weight": rand(vocab, d)}, {}]
    for i in range(blocks):
        part = shards[0] if i < blocks // 2 else shards[1]
        b = f"encoder.block.{i}.layer."
        for p in "qkvo":
            part[f"{b}0.SelfAttention.{p}.weight"] = rand(inner, d)
        if i == 0:
            part[f"{b}0.SelfAttention.relative_attention_bias.weight"] = rand(32, 64)
        part[f"{b}0.layer_norm.weight"] = rand(d)
        part[f"{b}1.DenseReluDense.wi_0.weight"] = rand(ff, d)
        part[f"{b}1.DenseReluDense.wi_1.weight"] = rand(ff, d)
        part[f"{b}1.DenseReluDense.wo.weight"] = rand(d, ff)
        part[f"{b}1.layer_norm.weight"] = rand(d)
    shards[1]["encoder.final_layer_norm.weight"] = rand(d)
    weight_map, total = {}, 0
    for n, shard in enumerate(shards, 1):
        name = f"model-0000{n}-of-00002.safetensors"
        total += write_safetensors(shard, os.path.join(folder, name))
        weight_map.update({k: name for k in shard})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        f.write(t5_encoder.hf_json({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}))
    config = dict(t5_encoder.model_config("T5EncoderModel", "bfloat16"), d_model=d, d_ff=ff, d_kv=64, num_heads=64,
                  num_layers=blocks, num_decoder_layers=blocks, vocab_size=vocab)
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write(t5_encoder.hf_json(config))
    t5_encoder.write_tokenizer(folder, t5_encoder.spiece_model())
    print(f"{folder}: T5 encoder with {blocks} blocks, {total / 1e9:.2f} GB", file=sys.stderr)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--model", choices=MODELS, default="2b")
    p.add_argument("--folder", action="store_true")
    p.add_argument("--t5", action="store_true", help="write only OUT_DIR/t5-v1_1-xxl")
    p.add_argument("--lora", type=int, default=0, help="rank: write a SAT LoRA engine save")
    a = p.parse_args()
    if a.lora:
        hidden, layers, dtype = MODELS[a.model]
        sd = wrap_lora(sat_transformer(hidden, layers, 16, "1.0", time_dim=512, text_dim=4096, dtype=dtype), layers,
                       rank=a.lora, width=hidden)
        torch.save(engine_state(sd, 1000, [a.lora * hidden] * 8), a.out)
        print(f"{a.out}: {len(sd)} tensors, {tensor_gb(sd):.2f} GB, LoRA rank {a.lora}", file=sys.stderr)
        return
    if a.t5:
        write_t5(os.path.join(a.out, "t5-v1_1-xxl"))
        return
    torch.manual_seed(0)
    hidden, layers, dtype = MODELS[a.model]
    transformer = a.out
    if a.folder:
        transformer = os.path.join(a.out, "transformer", "1000", "mp_rank_00_model_states.pt")
        os.makedirs(os.path.dirname(transformer), exist_ok=True)
        with open(os.path.join(a.out, "transformer", "latest"), "w") as f:
            f.write("1000\n")
    sd = sat_transformer(hidden, layers, 16, "1.0", time_dim=512, text_dim=4096, dtype=dtype)
    torch.save({"module": sd}, transformer)
    print(f"{transformer}: {len(sd)} tensors, {tensor_gb(sd):.2f} GB of tensor data", file=sys.stderr)
    if a.folder:
        vae = sat_vae(ch=(128, 256, 256, 512), resnets=3, latent=16, loss=False, dtype=torch.float32)
        os.makedirs(os.path.join(a.out, "vae"), exist_ok=True)
        torch.save({"state_dict": vae}, os.path.join(a.out, "vae", "3d-vae.pt"))
        print(f"{a.out}/vae/3d-vae.pt: {len(vae)} tensors, {tensor_gb(vae):.2f} GB", file=sys.stderr)
        write_t5(os.path.join(a.out, "t5-v1_1-xxl"))


if __name__ == "__main__":
    main()
