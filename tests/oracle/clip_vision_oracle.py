#!/usr/bin/python3
"""Oracle for clip_vision: ckptconv's output against Python reference conversions (families.md C.2).

    /usr/bin/python3 tests/oracle/clip_vision_oracle.py build/bin/ckptconv tests/corpus

HF -> DeepEncoder: keep vision_model.*, strip it, encoder. -> transformer., q/k/v weights and biases
concatenated (q, k, v) into self_attn.qkv_proj, post_layernorm / projections / text tower dropped.
DeepEncoder -> HF: the reverse, qkv_proj chunked in three, post_layernorm created (ones, zeros).
Every tensor is compared bit for bit, names and order included; torch.load reads every output.
"""
import collections
import json
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
from oracle_cases import (bits, convert_pt, detected_alone, expect_refused, read_model_folder,  # noqa: E402
                          read_safetensors, run_cases, run_cli, same_tensors, strict_load)

HF_ORDER = ("k_proj", "v_proj", "q_proj", "out_proj")


def to_deepencoder(sd, prefix="", position_ids="auto"):
    """Python reference: HF CLIP state dict -> DeepEncoder keys, in DeepEncoder's module order.

    DeepEncoder persists embeddings.position_ids (target-loaders.md C): by default it is kept, or
    created as int64 arange [1, positions] when the source (transformers >= 4.31) lacks it."""
    v = {k[len("vision_model."):]: t for k, t in sd.items() if k.startswith("vision_model.")}
    layers = 1 + max(int(k.split(".")[2]) for k in v if k.startswith("encoder.layers."))
    if position_ids == "drop":
        v.pop("embeddings.position_ids", None)
    elif "embeddings.position_ids" not in v or position_ids == "create":
        positions = v["embeddings.position_embedding.weight"].shape[0]
        v["embeddings.position_ids"] = torch.arange(positions, dtype=torch.int64).unsqueeze(0)
    out = collections.OrderedDict()
    for k in ("embeddings.class_embedding", "embeddings.patch_embedding.weight",
              "embeddings.position_embedding.weight", "embeddings.position_ids", "pre_layrnorm.weight",
              "pre_layrnorm.bias"):
        if k in v:
            out[prefix + k] = v[k]
    for i in range(layers):
        src, dst = f"encoder.layers.{i}.", f"{prefix}transformer.layers.{i}."
        for part in ("layer_norm1.weight", "layer_norm1.bias"):
            out[dst + part] = v[src + part]
        for wb in ("weight", "bias"):
            out[dst + f"self_attn.qkv_proj.{wb}"] = torch.cat([v[src + f"self_attn.{p}_proj.{wb}"] for p in "qkv"])
        for part in ("self_attn.out_proj.weight", "self_attn.out_proj.bias", "layer_norm2.weight", "layer_norm2.bias",
                     "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"):
            out[dst + part] = v[src + part]
    return out


def to_hf(sd, tower, position_ids="auto"):
    """Python reference: DeepEncoder keys under `tower` -> HF CLIPVisionModel state dict order.

    transformers >= 4.31 does not persist embeddings.position_ids: dropped unless kept explicitly."""
    v = {k[len(tower):]: t for k, t in sd.items() if k.startswith(tower)}
    if position_ids != "keep":
        v.pop("embeddings.position_ids", None)
    layers = 1 + max(int(k.split(".")[2]) for k in v if k.startswith("transformer.layers."))
    out = collections.OrderedDict()
    for k in ("embeddings.class_embedding", "embeddings.patch_embedding.weight",
              "embeddings.position_embedding.weight", "embeddings.position_ids", "pre_layrnorm.weight",
              "pre_layrnorm.bias"):
        if k in v:
            out["vision_model." + k] = v[k]
    for i in range(layers):
        src, dst = f"transformer.layers.{i}.", f"vision_model.encoder.layers.{i}."
        split = {}
        for wb in ("weight", "bias"):
            q, k, vv = v[src + f"self_attn.qkv_proj.{wb}"].chunk(3, dim=0)
            split.update({f"q_proj.{wb}": q, f"k_proj.{wb}": k, f"v_proj.{wb}": vv,
                          f"out_proj.{wb}": v[src + f"self_attn.out_proj.{wb}"]})
        for p in HF_ORDER:
            for wb in ("weight", "bias"):
                out[dst + f"self_attn.{p}.{wb}"] = split[f"{p}.{wb}"]
        for part in ("layer_norm1", "mlp.fc1", "mlp.fc2", "layer_norm2"):
            for wb in ("weight", "bias"):
                out[dst + f"{part}.{wb}"] = v[src + f"{part}.{wb}"]
    d = v["pre_layrnorm.weight"]
    out["vision_model.post_layernorm.weight"] = torch.ones_like(d)
    out["vision_model.post_layernorm.bias"] = torch.zeros_like(d)
    return out


def check_clip_model(cli, corpus):
    src = os.path.join(corpus, "clip_vision", "clip_model_b16_legacy.bin")
    sel = detected_alone(cli, src, "clip_vision")
    assert (sel["plugin"], sel["score"], sel["format_version"], sel["variant"]) == ("clip_vision", 100, "hf", "custom")
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r.json")
        got = convert_pt(cli, src, os.path.join(tmp, "tower.pt"), "--report", report)
        expected = to_deepencoder(torch.load(src))
        assert len(expected) == 5 + 1 + 12 * 3, len(expected)  # 5 + position_ids + 12 per layer
        same_tensors(got, expected)
        root = json.load(open(report))["roots"][0]
        assert root["total_in"] == 96 and root["total_out"] == 42 and root["dropped"] == 42, root
        assert root["fused"] == 6, root  # one qkv_proj weight and bias per layer


def check_prefix(cli, corpus):
    src = os.path.join(corpus, "clip_vision", "clip_model_b16_legacy.bin")
    with tempfile.TemporaryDirectory() as tmp:
        got = convert_pt(cli, src, os.path.join(tmp, "t.pt"), "--option", "prefix=model.vision_model.")
        same_tensors(got, to_deepencoder(torch.load(src), prefix="model.vision_model."))


def check_vision_safetensors_round_trip(cli, corpus):
    src = os.path.join(corpus, "clip_vision", "clip_vision_l14.safetensors")
    sd, _ = read_safetensors(src)
    with tempfile.TemporaryDirectory() as tmp:
        fused_path, back_path = os.path.join(tmp, "fused.pt"), os.path.join(tmp, "back.pt")
        r = run_cli(cli, "convert", src, "-o", fused_path, "--report", os.path.join(tmp, "r.json"))
        assert r.returncode == 0, r.stderr
        assert "vision_model." not in sd or "vision_model.embeddings.position_ids" not in sd
        assert "embeddings.position_ids created as int64 arange(" in r.stderr, "the created buffer is reported"
        fused = torch.load(fused_path)
        same_tensors(fused, to_deepencoder(sd))
        ids = fused["embeddings.position_ids"]
        assert ids.dtype == torch.int64 and ids.shape == (1, sd["vision_model.embeddings.position_embedding.weight"].shape[0])
        sel = detected_alone(cli, fused_path, "clip_vision")
        assert (sel["format_version"], sel["target"]) == ("deepencoder", "hf"), sel
        r = run_cli(cli, "convert", fused_path, "-o", back_path)
        assert r.returncode == 0, r.stderr
        assert "transformers >= 4.31 does not persist" in r.stderr, "the dropped buffer is reported"
        back = torch.load(back_path)
        same_tensors(back, to_hf(fused, ""))
        shared = [k for k in sd if not k.startswith("vision_model.post_layernorm")]
        for k in shared:  # A -> B -> A: byte-identical where both layouts hold the tensor
            assert torch.equal(bits(back[k]), bits(sd[k])), k
        assert len(shared) == len(back) - 2 == 5 + 16 * 4
        for choice, count in (("drop", 0), ("keep", 1)):  # the option still overrides both ways
            out = os.path.join(tmp, choice + ".pt")
            got = convert_pt(cli, fused_path, out, "--option", "position_ids=" + choice)
            same_tensors(got, to_hf(fused, "", position_ids=choice))
            assert sum(k.endswith("position_ids") for k in got) == count
        dropped = convert_pt(cli, src, os.path.join(tmp, "noids.pt"), "--option", "position_ids=drop")
        same_tensors(dropped, to_deepencoder(sd, position_ids="drop"))


def check_zip_bin(cli, corpus):
    src = os.path.join(corpus, "clip_vision", "clip_vision_b32_zip.bin")
    j = json.loads(run_cli(cli, "detect", src, "--json").stdout)
    assert j["container"] == "torch-zip", j["container"]
    sel = detected_alone(cli, src, "clip_vision")
    assert (sel["format_version"], sel["variant"]) == ("hf", "custom"), sel
    sd = torch.load(src)
    with tempfile.TemporaryDirectory() as tmp:
        got = convert_pt(cli, src, os.path.join(tmp, "tower.pt"))
        expected = to_deepencoder(sd)
        assert "embeddings.position_ids" in expected and len(expected) == 6 + 12 * 2, len(expected)
        same_tensors(got, expected)


def check_deepseek_ocr(cli, corpus):
    src = os.path.join(corpus, "clip_vision", "deepseek_ocr_tiny.pt")
    sel = detected_alone(cli, src, "clip_vision")
    assert (sel["format_version"], sel["target"]) == ("deepencoder", "hf"), sel
    sd = torch.load(src)
    with tempfile.TemporaryDirectory() as tmp:
        got = convert_pt(cli, src, os.path.join(tmp, "hf.pt"))
        same_tensors(got, to_hf(sd, "model.vision_model."))
        omitted = convert_pt(cli, src, os.path.join(tmp, "hf2.pt"), "--option", "post_layernorm=omit")
        assert list(omitted) == list(got)[:-2]


def clip_vision_expected_shapes(config):
    """CLIPVisionModel's persistent state from config.json (transformers >= 4.31: no position_ids buffer)."""
    d, inter, p, c = config["hidden_size"], config["intermediate_size"], config["patch_size"], config["num_channels"]
    assert d % config["num_attention_heads"] == 0, "hidden_size must be a multiple of num_attention_heads"
    positions = (config["image_size"] // p) ** 2 + 1
    v = "vision_model."
    shapes = {v + "embeddings.class_embedding": (d,), v + "embeddings.patch_embedding.weight": (d, c, p, p),
              v + "embeddings.position_embedding.weight": (positions, d), v + "pre_layrnorm.weight": (d,),
              v + "pre_layrnorm.bias": (d,), v + "post_layernorm.weight": (d,), v + "post_layernorm.bias": (d,)}
    for i in range(config["num_hidden_layers"]):
        b = f"{v}encoder.layers.{i}."
        for name, o, n in (("self_attn.k_proj", d, d), ("self_attn.v_proj", d, d), ("self_attn.q_proj", d, d),
                           ("self_attn.out_proj", d, d), ("mlp.fc1", inter, d), ("mlp.fc2", d, inter)):
            shapes.update({f"{b}{name}.weight": (o, n), f"{b}{name}.bias": (o,)})
        for norm in ("layer_norm1", "layer_norm2"):
            shapes.update({f"{b}{norm}.weight": (d,), f"{b}{norm}.bias": (d,)})
    return shapes


def check_hf_folder(cli, corpus):
    """DeepEncoder -> a transformers CLIPVisionModel folder: config.json from the weights, model.safetensors that
    CLIPVisionModel loads strictly; heads are asked for, never guessed, on a custom width."""
    src = os.path.join(corpus, "clip_vision", "deepseek_ocr_tiny.pt")
    sd = torch.load(src)
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "hf")
        expect_refused(cli, src, folder, "--option heads=N")
        r = run_cli(cli, "convert", src, "-o", folder, "--option", "heads=2")
        assert r.returncode == 0, r.stderr
        config, got, _ = read_model_folder(folder)
        assert (config["architectures"], config["model_type"], config["num_attention_heads"]) == \
            (["CLIPVisionModel"], "clip_vision_model", 2), config
        strict_load("CLIPVisionModel", got, clip_vision_expected_shapes(config))
        same_tensors(got, to_hf(sd, "model.vision_model."), ordered=False)
        expect_refused(cli, src, os.path.join(tmp, "omit"), "always has post_layernorm", "--option", "heads=2",
                       "--option", "post_layernorm=omit")


def check_wrong_direction(cli, corpus):
    src = os.path.join(corpus, "clip_vision", "deepseek_ocr_tiny.pt")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.pt")
        r = run_cli(cli, "convert", src, "-o", out, "--format-version", "hf")
        assert r.returncode == 5 and "qkv_proj" in r.stderr, (r.returncode, r.stderr)
        assert not os.path.exists(out)
        r = run_cli(cli, "convert", src, "-o", out, "--option", "position_ids=maybe")
        assert r.returncode != 0 and "auto, keep, create, drop" in r.stderr, r.stderr


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases([
        ("CLIPModel legacy .bin -> DeepEncoder: 42 tensors bit-exact, counts", lambda: check_clip_model(cli, corpus)),
        ("--option prefix=model.vision_model.", lambda: check_prefix(cli, corpus)),
        ("CLIPVisionModel safetensors -> DeepEncoder -> HF round trip, position_ids created then dropped",
         lambda: check_vision_safetensors_round_trip(cli, corpus)),
        ("CLIPVisionModel zip-format .bin -> DeepEncoder, position_ids kept", lambda: check_zip_bin(cli, corpus)),
        ("DeepSeek-OCR checkpoint -> HF CLIPVisionModel", lambda: check_deepseek_ocr(cli, corpus)),
        ("forced wrong direction and bad options refused", lambda: check_wrong_direction(cli, corpus)),
        ("DeepSeek-OCR checkpoint -> transformers CLIPVisionModel folder (config.json + model.safetensors)",
         lambda: check_hf_folder(cli, corpus)),
    ]))
