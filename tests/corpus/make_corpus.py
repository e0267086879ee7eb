#!/usr/bin/python3
"""Writes the test corpus: real torch.save files made by Debian's python3-torch.

Run with /usr/bin/python3 (the python3 on PATH has no torch):
    /usr/bin/python3 tests/corpus/make_corpus.py [OUT_DIR]
Zip-format files are byte-identical across runs for a given torch version;
legacy-format files embed storage addresses as keys, so they differ in bytes
(not in content) each time they are regenerated. Layout:
    torch/        reader cases (zip, legacy, dtypes, views, extras, roots...)
    safetensors/  hand-written safetensors files (no safetensors package on Debian)
    _negative/    broken inputs every reader must refuse with exit 3
    cogvideox_sat/<version>/  SAT transformer checkpoints at reduced width
    <family>/     one folder per further plugin, written by families/<family>.py
    acme_lm/      the made-up family of the SDK's example plugin (sdk/examples/acme_lm)
Training saves (families/training_saves.py): a SAT engine save with its whole training state and SAT
LoRA fine-tunes in cogvideox_sat/, a fairseq save with EMA and optimizer state in xlmr_hf/. T5 folders
and tokenizers (families/t5_encoder.py, families/spm.py) need python3-sentencepiece.
DeepSpeed folders (families/deepspeed.py) in deepspeed/: ZeRO 1, 2 and 3, BF16_Optimizer, rank files past 9,
the HF Trainer and CogVideo finetune/ wrappers, a SAT run with two tags.
--only GROUP[,GROUP] rewrites just those groups (torch, safetensors, sharded,
negative, cogvideox, or a family name), leaving the other files' bytes alone.
"""
import argparse
import collections
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch

from families import acme_lm, clip_vision, cogvideox_vae, deepspeed, deltalm_fairseq, t2m_cut, training_saves, xlmr_hf

torch.manual_seed(0)


def save(obj, path, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, **kw)


def all_dtypes_state_dict():
    """An OrderedDict state dict with every classic dtype and the awkward cases."""
    sd = collections.OrderedDict()
    sd["f64"] = torch.randn(2, 3, dtype=torch.float64)
    sd["f32"] = torch.randn(4, 5)
    sd["f16"] = torch.randn(3, 2).half()
    sd["bf16"] = torch.tensor([1.5, -2.25, 3.0], dtype=torch.bfloat16)
    sd["i64"] = torch.arange(6, dtype=torch.int64).reshape(2, 3)
    sd["i32"] = torch.tensor([-7, 2**31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([-3, 300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    base = torch.arange(12, dtype=torch.float32)
    sd["view_a"] = base[:6].view(2, 3)          # shares one storage with view_b
    sd["view_b"] = base[6:]                     # storage offset 6
    sd["column"] = base.view(3, 4)[:, 1]        # non-contiguous: stride (4,)
    sd["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    sd["empty"] = torch.zeros(0, 4)
    sd["scalar"] = torch.tensor(2.5)
    sd["größe.ü"] = torch.ones(2)                # non-ASCII key
    sd._metadata = collections.OrderedDict({"": {"version": 1}})
    return sd


def write_torch_cases(out):
    sd = all_dtypes_state_dict()
    save(sd, f"{out}/torch/zip_ordereddict.pt")
    save(sd, f"{out}/torch/legacy_ordereddict.pt", _use_new_zipfile_serialization=False)
    save(dict(sd), f"{out}/torch/plain_dict.pt")
    save(sd, f"{out}/torch/protocol4.pt", pickle_protocol=4)
    save(torch.randn(3, 3), f"{out}/torch/bare_tensor.pt")
    # Casts computed by torch itself: the oracle for the executor's bf16/fp16/fp32 rounding.
    x = torch.tensor([float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e-40, 6e-8, 65504.0, 70000.0, 1.00390625,
                      1.01171875, 3.4e38, 1e-45, -2.5, 0.1])
    casts = collections.OrderedDict(f32=x, bf16=x.bfloat16(), f16=x.half())
    for src in ("f32", "bf16", "f16"):
        for dst, dt in (("f32", torch.float32), ("bf16", torch.bfloat16), ("f16", torch.float16)):
            if src != dst:
                casts[f"{src}_as_{dst}"] = casts[src].to(dt)
    save(casts, f"{out}/torch/special_floats.pt")
    # Claimed by the contract tests' fake plugins (a tie between two ids).
    save(collections.OrderedDict([("fake.marker", torch.zeros(2))]), f"{out}/torch/fake_marker.pt")

    params = collections.OrderedDict(
        w=torch.nn.Parameter(torch.randn(2, 2)), b=torch.nn.Parameter(torch.zeros(2), requires_grad=False))
    save(params, f"{out}/torch/parameters.pt")

    emb = torch.randn(10, 4)
    tied = collections.OrderedDict()
    tied["embed_tokens.weight"] = emb
    tied["layer.weight"] = torch.randn(4, 4)
    tied["lm_head.weight"] = emb                 # same storage, same view
    save(tied, f"{out}/torch/tied.pt")

    # fairseq-like training checkpoint: Namespace, numpy scalar and array, nested dicts.
    model = collections.OrderedDict(
        [("encoder.embed_tokens.weight", torch.randn(8, 4)), ("encoder.layers.0.fc1.weight", torch.randn(6, 4))])
    ckpt = {
        "args": argparse.Namespace(arch="transformer", lr=[0.0005], max_tokens=4096),
        "model": model,
        "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "num_updates": 1000}],
        "extra_state": {"epoch": 3, "best": np.float64(1.25), "val_loss": np.array([0.5, 0.25])},
        "last_optimizer_state": None,
    }
    save(ckpt, f"{out}/torch/fairseq_like.pt")
    save(ckpt, f"{out}/torch/fairseq_like_legacy.pt", _use_new_zipfile_serialization=False)

    nested = {
        "model": collections.OrderedDict(a=torch.randn(2), b=torch.randn(3)),
        "model_ema": collections.OrderedDict(a=torch.randn(2), b=torch.randn(3)),
        "trainer": {"state_dict": collections.OrderedDict(c=torch.randn(1))},
        "step": 42,
    }
    save(nested, f"{out}/torch/nested_roots.pt")


def safetensors_bytes(tensors, metadata=None, header_pad=8):
    """A safetensors file as the reference writer lays it out (no safetensors package here)."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % header_pad)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_safetensors_cases(out):
    os.makedirs(f"{out}/safetensors", exist_ok=True)
    tensors = collections.OrderedDict(
        [("a.weight", torch.randn(3, 4)), ("a.bias", torch.randn(3).half()),
         ("b", torch.tensor([1.5, 2.5], dtype=torch.bfloat16)), ("steps", torch.arange(3)), ("none", torch.zeros(0))])
    with open(f"{out}/safetensors/simple.safetensors", "wb") as f:
        f.write(safetensors_bytes(tensors, {"format": "pt"}))


def write_sharded_cases(out):
    """HF-style sharded checkpoints: safetensors and .bin shards with their index."""
    tensors = collections.OrderedDict(
        [("embed.weight", torch.randn(6, 4)), ("layers.0.w", torch.randn(4, 4).half()), ("layers.1.w", torch.randn(4, 4)),
         ("head.bias", torch.randn(6))])
    names = list(tensors)
    parts = [names[:2], names[2:]]
    for kind, stem, ext in (("safetensors", "model", "safetensors"), ("bin", "pytorch_model", "bin")):
        folder = f"{out}/sharded/{kind}"
        os.makedirs(folder, exist_ok=True)
        weight_map = {}
        for k, part in enumerate(parts):
            file = f"{stem}-{k + 1:05d}-of-{len(parts):05d}.{ext}"
            chunk = collections.OrderedDict((n, tensors[n]) for n in part)
            if ext == "safetensors":
                with open(f"{folder}/{file}", "wb") as f:
                    f.write(safetensors_bytes(chunk, {"format": "pt"}))
            else:
                torch.save(chunk, f"{folder}/{file}")
            weight_map.update({n: file for n in part})
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        with open(f"{folder}/{stem}.{ext}.index.json", "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def write_negative_cases(out):
    neg = f"{out}/_negative"
    os.makedirs(neg, exist_ok=True)
    open(f"{neg}/empty.pt", "wb").close()
    with open(f"{neg}/random.bin", "wb") as f:
        f.write(bytes(np.random.RandomState(7).randint(0, 256, 4096, dtype=np.uint8)))
    good = io.BytesIO()
    torch.save(collections.OrderedDict(w=torch.randn(64, 64)), good)
    data = good.getvalue()
    with open(f"{neg}/truncated.pt", "wb") as f:
        f.write(data[: len(data) // 2])

    def zip_with(path, entries):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for name, payload in entries:
                z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), payload)

    zip_with(f"{neg}/no_data_pkl.pt", [("archive/version", b"3\n"), ("archive/data/0", b"\0" * 16)])
    zip_with(f"{neg}/garbage_pickle.pt", [("archive/data.pkl", b"\x80\x02\xff\xfe garbage"), ("archive/version", b"3\n")])
    # A pickle that would call os.system if a Python unpickler ran it.
    evil = b"\x80\x02cos\nsystem\nX\x0b\x00\x00\x00echo pwned!\x85R."
    zip_with(f"{neg}/os_system.pt", [("archive/data.pkl", evil), ("archive/version", b"3\n")])
    # Storage record shorter than the tensor that views it.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        entries = [(n, z.read(n)) for n in names]
    short = [(n, p[:100] if n.endswith("data/0") else p) for n, p in entries]
    zip_with(f"{neg}/short_storage.pt", short)
    # A tensor with a negative size (pickle edited: BININT1 64 -> BININT -1 would change lengths, so
    # rebuild the pickle by hand with pickletools-free bytes).
    pkl = (b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00wq\x02ctorch._utils\n_rebuild_tensor_v2\n"
           b"q\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07"
           b"K\x04tq\x08QK\x00J\xff\xff\xff\xffK\x04\x86q\tK\x04K\x01\x86q\n\x89h\x00)Rq\x0btq\x0cRq\rs.")
    zip_with(f"{neg}/negative_shape.pt",
             [("archive/data.pkl", pkl), ("archive/data/0", b"\0" * 16), ("archive/version", b"3\n")])
    # Sizes whose product overflows 64 bits: (2**62, 4) with LONG1 sizes.
    big = b"\x8a\x08" + (2 ** 62).to_bytes(8, "little")
    overflow = pkl.replace(b"J\xff\xff\xff\xffK\x04\x86", big + b"K\x04\x86")
    assert overflow != pkl
    zip_with(f"{neg}/overflowing_shape.pt",
             [("archive/data.pkl", overflow), ("archive/data/0", b"\0" * 16), ("archive/version", b"3\n")])
    ok = safetensors_bytes({"w": torch.randn(2, 2)})
    with open(f"{neg}/header_too_large.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(ok) * 10) + ok[8:])
    header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode()
    with open(f"{neg}/overlap.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b"\0" * 12)
    # Sharded sets whose index and shards disagree.
    for case, shard, weight_map in (
            ("missing_shard", {"a": torch.zeros(2)},
             {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}),
            ("unlisted_tensor", {"a": torch.zeros(2), "stray": torch.zeros(1)}, {"a": "model-00001-of-00002.safetensors"})):
        folder = f"{neg}/sharded_{case}"
        os.makedirs(folder, exist_ok=True)
        with open(f"{folder}/model-00001-of-00002.safetensors", "wb") as f:
            f.write(safetensors_bytes(shard, {"format": "pt"}))
        with open(f"{folder}/model.safetensors.index.json", "w") as f:
            json.dump({"metadata": {"total_size": 12}, "weight_map": weight_map}, f, indent=2)


def sat_transformer(D, layers, C, version, time_dim=64, text_dim=64, head_dim=64, learned_pos=False, ofs=False,
                    dtype=torch.float16, prefix="model.diffusion_model."):
    """The key layout of a SAT CogVideoX transformer (cogvideox.md section 3) at any width."""
    sd = collections.OrderedDict()

    def put(key, *shape):
        sd[prefix + key] = (torch.randn(*shape) * 0.02).to(dtype)

    put("time_embed.0.weight", time_dim, D); put("time_embed.0.bias", time_dim)
    put("time_embed.2.weight", time_dim, time_dim); put("time_embed.2.bias", time_dim)
    if ofs:
        put("ofs_embed.0.weight", time_dim, time_dim); put("ofs_embed.0.bias", time_dim)
        put("ofs_embed.2.weight", time_dim, time_dim); put("ofs_embed.2.bias", time_dim)
    if version == "1.0":
        put("mixins.patch_embed.proj.weight", D, C, 2, 2)
    else:
        put("mixins.patch_embed.proj.weight", D, C * 8)
    put("mixins.patch_embed.proj.bias", D)
    put("mixins.patch_embed.text_proj.weight", D, text_dim); put("mixins.patch_embed.text_proj.bias", D)
    if learned_pos:
        put("mixins.pos_embed.pos_embedding", 1, 64, D)
    for i in range(layers):
        put(f"mixins.adaln_layer.adaLN_modulations.{i}.1.weight", 12 * D, time_dim)
        put(f"mixins.adaln_layer.adaLN_modulations.{i}.1.bias", 12 * D)
        put(f"mixins.adaln_layer.query_layernorm_list.{i}.weight", head_dim)
        put(f"mixins.adaln_layer.query_layernorm_list.{i}.bias", head_dim)
        put(f"mixins.adaln_layer.key_layernorm_list.{i}.weight", head_dim)
        put(f"mixins.adaln_layer.key_layernorm_list.{i}.bias", head_dim)
    for i in range(layers):
        t = f"transformer.layers.{i}."
        put(t + "input_layernorm.weight", D); put(t + "input_layernorm.bias", D)
        put(t + "attention.query_key_value.weight", 3 * D, D); put(t + "attention.query_key_value.bias", 3 * D)
        put(t + "attention.dense.weight", D, D); put(t + "attention.dense.bias", D)
        put(t + "post_attention_layernorm.weight", D); put(t + "post_attention_layernorm.bias", D)
        put(t + "mlp.dense_h_to_4h.weight", 4 * D, D); put(t + "mlp.dense_h_to_4h.bias", 4 * D)
        put(t + "mlp.dense_4h_to_h.weight", D, 4 * D); put(t + "mlp.dense_4h_to_h.bias", D)
    put("transformer.final_layernorm.weight", D); put("transformer.final_layernorm.bias", D)
    put("mixins.final_layer.norm_final.weight", D); put("mixins.final_layer.norm_final.bias", D)
    out = 64 if version == "1.0" else 128
    put("mixins.final_layer.linear.weight", out, D); put("mixins.final_layer.linear.bias", out)
    put("mixins.final_layer.adaLN_modulation.1.weight", 2 * D, time_dim)
    put("mixins.final_layer.adaLN_modulation.1.bias", 2 * D)
    return sd


def write_cogvideox_cases(out, samples):
    base = f"{out}/cogvideox_sat"
    t2v_10 = sat_transformer(128, 2, 16, "1.0")
    save({"module": t2v_10}, f"{base}/1.0/t2v_tiny.pt")
    save({"module": sat_transformer(128, 2, 32, "1.0", learned_pos=True, dtype=torch.bfloat16)},
         f"{base}/1.0/i2v_tiny.pt")
    save({"module": sat_transformer(128, 2, 16, "1.5", dtype=torch.bfloat16)}, f"{base}/1.5/t2v_tiny.pt")
    save({"module": sat_transformer(128, 2, 32, "1.5", ofs=True, dtype=torch.bfloat16)}, f"{base}/1.5/i2v_tiny.pt")
    save(sat_transformer(128, 2, 16, "1.0", prefix=""), f"{base}/1.0/unwrapped_tiny.pt")
    # A full SAT fine-tune dump: engine extras (T5, VAE), the fixed sin-cos table, RoPE tables and the unused
    # position embedding, next to DeepSpeed bookkeeping; everything but the transformer must be dropped.
    dump = sat_transformer(128, 2, 16, "1.0", learned_pos=True)
    p = "model.diffusion_model."
    dump[p + "mixins.pos_embed.freqs_sin"] = torch.randn(64, 64).half()
    dump[p + "mixins.pos_embed.freqs_cos"] = torch.randn(64, 64).half()
    dump[p + "transformer.position_embeddings.weight"] = torch.randn(64, 128).half()
    dump["conditioner.embedders.0.transformer.shared.weight"] = torch.randn(32, 16).half()
    dump["conditioner.embedders.0.transformer.encoder.embed_tokens.weight"] = torch.randn(32, 16).half()
    dump["first_stage_model.encoder.conv_in.conv.weight"] = torch.randn(8, 3, 3, 3, 3).half()
    save({"module": dump, "iteration": 1000, "global_steps": 1000, "ds_version": "0.14.0"},
         f"{base}/1.0/finetune_dump_tiny.pt")
    lora = sat_transformer(128, 2, 16, "1.0")
    lora[p + "transformer.layers.0.attention.query_key_value.matrix_A.0"] = torch.randn(8, 128).half()
    save({"module": lora}, f"{base}/1.0/lora_tiny.pt")
    # The bundled sample the README's run command converts when given no input.
    save({"module": t2v_10}, f"{samples}/cogvideox_sat_t2v_tiny.pt")
    training_saves.write_cogvideox(out, save, sat_transformer)


def diffusers_names(sat_sd):
    """A SAT transformer under diffusers' names, as CogVideo's finetune/ trains it (the oracle's SAT rules)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
    import cogvideox_oracle
    return cogvideox_oracle.reference(sat_sd, False, cogvideox_oracle.PREFIX)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=here)
    parser.add_argument("--samples", default=os.path.join(here, "..", "..", "samples"))
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    groups = collections.OrderedDict([
        ("torch", lambda: write_torch_cases(args.out)),
        ("safetensors", lambda: write_safetensors_cases(args.out)),
        ("sharded", lambda: write_sharded_cases(args.out)),
        ("negative", lambda: write_negative_cases(args.out)),
        ("cogvideox", lambda: write_cogvideox_cases(args.out, args.samples)),
        ("t2m_cut", lambda: t2m_cut.write(args.out, save)),
        ("cogvideox_vae", lambda: cogvideox_vae.write(args.out, save, sat_transformer, safetensors_bytes)),
        ("clip_vision", lambda: clip_vision.write(args.out, save, safetensors_bytes)),
        ("deltalm_fairseq", lambda: deltalm_fairseq.write(args.out, save)),
        ("xlmr_hf", lambda: xlmr_hf.write(args.out, save, safetensors_bytes)),
        ("acme_lm", lambda: acme_lm.write(args.out, save)),
        ("deepspeed", lambda: deepspeed.write(args.out, sat_transformer, diffusers_names)),
    ])
    chosen = args.only.split(",") if args.only else list(groups)
    for name in chosen:
        if name not in groups:
            parser.error(f"--only {name}: expected one of {', '.join(groups)}")
        groups[name]()
    print(f"corpus written to {args.out} with torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
