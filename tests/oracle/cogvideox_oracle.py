#!/usr/bin/python3
"""Oracle for cogvideox_sat: ckptconv's diffusers output against a Python reference conversion.

    /usr/bin/python3 tests/oracle/cogvideox_oracle.py build/bin/ckptconv tests/corpus

The reference below follows the semantics of diffusers'
scripts/convert_cogvideox_to_diffusers.py (cogvideox.md section 4): keep
model.diffusion_model.*, apply the ordered substring renames, split q/k/v,
move the q/k norm lists, reorder the adaLN chunks, delete embed_tokens, RoPE
tables and the unused position table, keep pos_embedding only for the
learned-table I2V model. Every output tensor must equal the reference bit
for bit, with the same names, and config.json must hold the values the
spec's table gives for the detected variant.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
from oracle_cases import bits, check_metadata, expect_refused, read_safetensors, run_cases, substring_renames  # noqa: E402

PREFIX = "model.diffusion_model."
RENAMES = [("transformer.final_layernorm", "norm_final"), ("transformer", "transformer_blocks"), ("attention", "attn1"),
           ("mlp", "ff.net"), ("dense_h_to_4h", "0.proj"), ("dense_4h_to_h", "2"), (".layers", ""),
           ("dense", "to_out.0"), ("input_layernorm", "norm1.norm"), ("post_attn1_layernorm", "norm2.norm"),
           ("time_embed.0", "time_embedding.linear_1"), ("time_embed.2", "time_embedding.linear_2"),
           ("ofs_embed.0", "ofs_embedding.linear_1"), ("ofs_embed.2", "ofs_embedding.linear_2"),
           ("mixins.patch_embed", "patch_embed"), ("mixins.final_layer.norm_final", "norm_out.norm"),
           ("mixins.final_layer.linear", "proj_out"), ("mixins.final_layer.adaLN_modulation.1", "norm_out.linear"),
           ("mixins.pos_embed.pos_embedding", "patch_embed.pos_embedding")]


def reference(sd, learned_pos, prefix):
    out = collections.OrderedDict(substring_renames(sd, prefix, RENAMES))
    for key in list(out):
        if "query_key_value" in key:
            q, k, v = out.pop(key).chunk(3, dim=0)
            out[key.replace("query_key_value", "to_q")] = q
            out[key.replace("query_key_value", "to_k")] = k
            out[key.replace("query_key_value", "to_v")] = v
        elif "query_layernorm_list" in key or "key_layernorm_list" in key:
            *_, layer, wb = key.split(".")
            which = "norm_q" if "query" in key else "norm_k"
            out[f"transformer_blocks.{layer}.attn1.{which}.{wb}"] = out.pop(key)
        elif "adaln_layer.adaLN_modulations" in key:
            *_, layer, _, wb = key.split(".")
            c = out.pop(key).chunk(12, dim=0)
            out[f"transformer_blocks.{layer}.norm1.linear.{wb}"] = torch.cat(c[0:3] + c[6:9])
            out[f"transformer_blocks.{layer}.norm2.linear.{wb}"] = torch.cat(c[3:6] + c[9:12])
        elif any(s in key for s in ("embed_tokens", "freqs_sin", "freqs_cos", "position_embedding")):
            out.pop(key)
    if not learned_pos:
        out.pop("patch_embed.pos_embedding", None)
    return out


def module_of(obj):
    return obj["module"] if "module" in obj else obj


def prefix_of(sd):
    return PREFIX if any(k.startswith(PREFIX) for k in sd) else ""


def check(cli, rel, corpus, expect):
    src = os.path.join(corpus, rel)
    sd = module_of(torch.load(src))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pipe")
        report = os.path.join(tmp, "report.json")
        r = subprocess.run([cli, "convert", src, "-o", out, "--report", report, "-q"], capture_output=True, text=True)
        assert r.returncode == 0, f"convert exited {r.returncode}: {r.stderr.strip()}"
        got, meta = read_safetensors(os.path.join(out, "transformer", "diffusion_pytorch_model.safetensors"))
        with open(os.path.join(out, "transformer", "config.json")) as f:
            text = f.read()
        with open(report) as f:
            rep = json.load(f)
    ref = reference(sd, expect["use_learned_positional_embeddings"], prefix_of(sd))
    assert set(got) == set(ref), f"keys differ: ours only {sorted(set(got) - set(ref))[:3]}, ref only {sorted(set(ref) - set(got))[:3]}"
    for k, t in ref.items():
        assert got[k].dtype == t.dtype and list(got[k].shape) == list(t.shape), f"{k}: dtype/shape"
        assert torch.equal(bits(got[k]), bits(t)), f"{k}: values differ"
    cfg = json.loads(text)
    assert text == json.dumps(cfg, indent=2, sort_keys=True) + "\n", "config.json is not formatted as diffusers writes it"
    for field, value in expect.items():
        assert cfg[field] == value, f"config {field}: {cfg[field]!r} != {value!r}"
    dropped = sum(r["dropped"] for r in rep["roots"])
    assert dropped == len([k for k in sd if k.startswith(("conditioner.", "first_stage_model."))]) + \
        len([k for k in sd if k.startswith(prefix_of(sd)) and any(s in k for s in ("freqs_", "position_embedding"))]) + \
        (1 if prefix_of(sd) + "mixins.pos_embed.pos_embedding" in sd and not expect["use_learned_positional_embeddings"]
         else 0), \
        f"report says {dropped} dropped"


def check_variant_sets_rope(cli, corpus):
    """--option variant= takes use_rotary_positional_embeddings from the release table (2B: sin-cos), not
    from the width guess; a checkpoint that stores RoPE tables cannot be called a sin-cos variant."""
    src = os.path.join(corpus, "cogvideox_sat", "1.0", "t2v_tiny.pt")
    with tempfile.TemporaryDirectory() as tmp:
        for variant, rotary in (("2b", False), ("5b", True), (None, True)):
            out = os.path.join(tmp, str(variant))
            extra = ["--option", f"variant={variant}"] if variant else []
            r = subprocess.run([cli, "convert", src, "-o", out, *extra], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            with open(os.path.join(out, "transformer", "config.json")) as f:
                assert json.load(f)["use_rotary_positional_embeddings"] is rotary, variant
            if variant:
                assert f"use_rotary_positional_embeddings: {str(rotary).lower()} from --option variant={variant}" in r.stderr
        dump = os.path.join(corpus, "cogvideox_sat", "1.0", "finetune_dump_tiny.pt")
        out = os.path.join(tmp, "refused")
        expect_refused(cli, dump, out, "stores RoPE tables", "--option", "variant=2b")
        expect_refused(cli, src, out, "unknown variant '3b'", "--option", "variant=3b")


def hub_split(sizes, cap):
    """huggingface_hub's split_torch_state_dict_into_shards: greedy in state_dict() order, a new shard
    when a tensor would overflow the current one, an oversized tensor alone (cogvideox.md 7)."""
    shards, current, used = [], [], 0
    for name, n in sizes:
        if n > cap:
            shards.append([name])
            continue
        if current and used + n > cap:
            shards.append(current)
            current, used = [], 0
        current.append(name)
        used += n
    return shards + ([current] if current else [])


BLOCK_ORDER = ["norm1.linear", "norm1.norm", "attn1.norm_q", "attn1.norm_k", "attn1.to_q", "attn1.to_k", "attn1.to_v",
               "attn1.to_out.0", "norm2.linear", "norm2.norm", "ff.net.0.proj", "ff.net.2"]
HEAD_ORDER = ["patch_embed.pos_embedding", "patch_embed.proj", "patch_embed.text_proj", "time_embedding.linear_1",
              "time_embedding.linear_2", "ofs_embedding.linear_1", "ofs_embedding.linear_2"]
TAIL_ORDER = ["norm_final", "norm_out.linear", "norm_out.norm", "proj_out"]


def state_dict_order(key):
    """CogVideoXTransformer3DModel.state_dict() order, from its module registration (cogvideox.md 4.4)."""
    module, _, leaf = key.rpartition(".")
    leaf_rank = 0 if leaf == "weight" else 1
    if key.startswith("transformer_blocks."):
        _, i, part = key.split(".", 2)
        return (1, int(i), BLOCK_ORDER.index(part.rpartition(".")[0]), leaf_rank)
    if key == "patch_embed.pos_embedding":
        return (0, 0, 0, 0)
    if module in HEAD_ORDER:
        return (0, 0, HEAD_ORDER.index(module), leaf_rank)
    return (2, 0, TAIL_ORDER.index(module), leaf_rank)


def check_shards(cli, corpus):
    """A small cap: Hub shard names, split and index, tensors still equal to the reference."""
    src = os.path.join(corpus, "cogvideox_sat", "1.0", "t2v_tiny.pt")
    sd = module_of(torch.load(src))
    ref = reference(sd, False, PREFIX)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pipe")
        r = subprocess.run([cli, "convert", src, "-o", out, "--shard-size", "100KB", "-q"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        folder = os.path.join(out, "transformer")
        index_path = os.path.join(folder, "diffusion_pytorch_model.safetensors.index.json")
        with open(index_path) as f:
            text = f.read()
        index = json.loads(text)
        assert text == json.dumps(index, indent=2, sort_keys=True) + "\n", "index not laid out as the Hub writes it"
        got = {}
        names = sorted(set(index["weight_map"].values()))
        for name in names:
            path = os.path.join(folder, name)
            tensors, meta = read_safetensors(path)
            check_metadata(meta, "cogvideox_sat")
            got.update(tensors)
        n = len(names)
        assert n > 2 and names == [f"diffusion_pytorch_model-{k:05d}-of-{n:05d}.safetensors" for k in range(1, n + 1)], names
        sizes = [(k, got[k].numel() * got[k].element_size()) for k in sorted(got, key=state_dict_order)]
        expected = hub_split(sizes, 100_000)
        assert [index["weight_map"][s[0]] for s in expected] == names, "shard boundaries differ from the Hub's split"
        assert all(index["weight_map"][k] == names[i] for i, shard in enumerate(expected) for k in shard)
        assert index["metadata"]["total_size"] == sum(b for _, b in sizes)
        # The index's metadata carries the same provenance beside total_size (loaders read only weight_map).
        provenance = {k: v for k, v in index["metadata"].items() if k != "total_size"}
        check_metadata(dict(provenance, format="pt"), "cogvideox_sat")
        assert not os.path.exists(os.path.join(folder, "diffusion_pytorch_model.safetensors"))
    assert set(got) == set(ref)
    for k, t in ref.items():
        assert torch.equal(bits(got[k]), bits(t)), k


def check_diffusers_names(cli, corpus, rel):
    """A transformer already under diffusers' names (CogVideo finetune/ saves it so): detected as CogVideoX, the
    tensors written unchanged, and config.json equal to the one the SAT original of the same weights gives."""
    sd = module_of(torch.load(os.path.join(corpus, rel)))
    learned = rel.endswith("1.0/i2v_tiny.pt")  # a 1.0 I2V keeps its learned table (cogvideox.md 4.5)
    renamed = reference(sd, learned, prefix_of(sd))
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "finetune.pt")
        torch.save({"module": renamed}, src)
        for name, path in (("diffusers", src), ("sat", os.path.join(corpus, rel))):
            r = subprocess.run([cli, "convert", path, "-o", os.path.join(tmp, name), "-q"], capture_output=True,
                               text=True)
            assert r.returncode == 0, r.stderr
        got, _ = read_safetensors(os.path.join(tmp, "diffusers", "transformer", "diffusion_pytorch_model.safetensors"))
        assert list(got) == list(read_safetensors(os.path.join(tmp, "sat", "transformer",
                                                               "diffusion_pytorch_model.safetensors"))[0])
        assert set(got) == set(renamed) and all(torch.equal(bits(got[k]), bits(v)) for k, v in renamed.items())
        configs = []
        for name in ("diffusers", "sat"):
            with open(os.path.join(tmp, name, "transformer", "config.json")) as f:
                config = json.load(f)
            config.pop("_ckptconv")
            configs.append(config)
        assert configs[0] == configs[1], {k: (configs[0][k], configs[1][k]) for k in configs[0]
                                          if configs[0][k] != configs[1].get(k)}


def main():
    cli, corpus = sys.argv[1], sys.argv[2]
    common = {"num_layers": 2, "num_attention_heads": 2, "attention_head_dim": 64, "text_embed_dim": 64, "time_embed_dim": 64}
    v10 = dict(common, patch_size_t=None, patch_bias=True, sample_frames=49, sample_height=60, sample_width=90,
               ofs_embed_dim=None, out_channels=16)
    v15 = dict(common, patch_size_t=2, patch_bias=False, sample_frames=81, sample_height=300, sample_width=300,
               out_channels=16)
    cases = [
        ("cogvideox_sat/1.0/t2v_tiny.pt", dict(v10, in_channels=16, use_learned_positional_embeddings=False,
                                               use_rotary_positional_embeddings=True)),
        ("cogvideox_sat/1.0/i2v_tiny.pt", dict(v10, in_channels=32, use_learned_positional_embeddings=True,
                                               use_rotary_positional_embeddings=True)),
        ("cogvideox_sat/1.0/unwrapped_tiny.pt", dict(v10, in_channels=16, use_learned_positional_embeddings=False)),
        ("cogvideox_sat/1.0/finetune_dump_tiny.pt", dict(v10, in_channels=16, use_learned_positional_embeddings=False,
                                                         use_rotary_positional_embeddings=True)),
        ("cogvideox_sat/1.5/t2v_tiny.pt", dict(v15, in_channels=16, ofs_embed_dim=None,
                                               use_learned_positional_embeddings=False)),
        ("cogvideox_sat/1.5/i2v_tiny.pt", dict(v15, in_channels=32, ofs_embed_dim=64,
                                               use_learned_positional_embeddings=False)),
        # A full 1.5 fine-tune: T5 (conditioner.*) and the whole VAE (first_stage_model.*) dropped, not mangled.
        ("cogvideox_sat/1.5/finetune_dump_tiny.pt", dict(v15, in_channels=16, ofs_embed_dim=None,
                                                         use_learned_positional_embeddings=False)),
    ]
    return run_cases([(rel, lambda rel=rel, expect=expect: check(cli, rel, corpus, expect)) for rel, expect in cases] +
                     [("1.0/t2v_tiny.pt --shard-size 100KB (some tensors over it): Hub shard names, split and index",
                       lambda: check_shards(cli, corpus)),
                      ("--option variant= sets the RoPE flag from the release table; RoPE tables vs 2b refused",
                       lambda: check_variant_sets_rope(cli, corpus))] +
                     [(f"{rel} under diffusers names (CogVideo finetune/): unchanged tensors, the same config.json",
                       lambda rel=rel: check_diffusers_names(cli, corpus, rel))
                      for rel in ("cogvideox_sat/1.0/t2v_tiny.pt", "cogvideox_sat/1.0/i2v_tiny.pt",
                                  "cogvideox_sat/1.5/i2v_tiny.pt")])

if __name__ == "__main__":
    sys.exit(main())
