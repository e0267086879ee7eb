#!/usr/bin/python3
"""Oracle for cogvideox_vae: ckptconv's vae/ folder against a Python reference conversion.

    /usr/bin/python3 tests/oracle/cogvideox_vae_oracle.py build/bin/ckptconv tests/corpus

The reference follows diffusers' convert_cogvideox_to_diffusers.py for the VAE
(cogvideox.md 6.2): the ordered substring renames, keys with "loss" deleted,
and for keys with "up." the level N becomes up_blocks.(levels-1-N).
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
from oracle_cases import bits, check_metadata, read_safetensors, run_cases, substring_renames  # noqa: E402

RENAMES = [("block.", "resnets."), ("down.", "down_blocks."), ("downsample", "downsamplers.0"),
           ("upsample", "upsamplers.0"), ("nin_shortcut", "conv_shortcut"),
           ("encoder.mid.block_1", "encoder.mid_block.resnets.0"), ("encoder.mid.block_2", "encoder.mid_block.resnets.1"),
           ("decoder.mid.block_1", "decoder.mid_block.resnets.0"), ("decoder.mid.block_2", "decoder.mid_block.resnets.1")]
VARIANTS = {"2b": (1.15258426, False), "5b": (0.7, False), "1.5": (0.7, True)}


def reference(sd, prefix=""):
    levels = 1 + max(int(k[len(prefix):].split(".")[2]) for k in sd if k.startswith(prefix + "decoder.up."))
    out = collections.OrderedDict()
    for new, value in substring_renames(sd, prefix, RENAMES):
        if "loss" in new:
            continue
        if "up." in new:
            parts = new.split(".")
            parts[1], parts[2] = "up_blocks", str(levels - 1 - int(parts[2]))
            new = ".".join(parts)
        out[new] = value
    return out


def convert(cli, src, out, *extra):
    r = subprocess.run([cli, "convert", src, "-o", out, "-q", *extra], capture_output=True, text=True)
    return r


def check_against_reference(got_dir, source_sd, prefix=""):
    expected = reference(source_sd, prefix)
    got, meta = read_safetensors(os.path.join(got_dir, "vae", "diffusion_pytorch_model.safetensors"))
    check_metadata(meta, "cogvideox_vae")
    assert len(got) == len(expected) == 436, (len(got), len(expected))
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:6]
    for k, v in expected.items():
        assert got[k].dtype == v.dtype and list(got[k].shape) == list(v.shape), k
        assert torch.equal(bits(got[k]), bits(v)), f"{k}: bytes differ"


def check_variant(cli, corpus, variant):
    src = os.path.join(corpus, "cogvideox_vae", "3d-vae_tiny.pt")
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        r = convert(cli, src, tmp, "--option", f"variant={variant}", "--force", "--report", report)
        assert r.returncode == 0, r.stderr
        check_against_reference(tmp, torch.load(src)["state_dict"])
        with open(report) as f:
            notes = json.load(f)["notes"]
        os.remove(report)
        with open(os.path.join(tmp, "vae", "config.json")) as f:
            text = f.read()
        config = json.loads(text)
        assert text == json.dumps(config, indent=2, sort_keys=True) + "\n", "not written as diffusers writes it"
        scaling, invert = VARIANTS[variant]
        assert config["scaling_factor"] == scaling and config["invert_scale_latents"] is invert, config
        assert config["_class_name"] == "AutoencoderKLCogVideoX"
        assert config["block_out_channels"] == [4, 8, 8, 16] and config["layers_per_block"] == 3, config
        assert config["latent_channels"] == 4 and config["in_channels"] == 3 and config["out_channels"] == 3
        # GroupNorm(32, C) cannot be built for these widths: the report says so rather than pretend.
        assert any("block widths 4, 8, 8, 16 are not multiples of norm_num_groups 32" in n for n in notes), notes


def check_variant_required(cli, corpus):
    src = os.path.join(corpus, "cogvideox_vae", "3d-vae_tiny.pt")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        r = convert(cli, src, out)
        assert r.returncode == 5, (r.returncode, r.stderr)
        for choice in ("variant=2b", "variant=5b", "variant=1.5"):
            assert choice in r.stderr, r.stderr
        assert not os.path.exists(out), "no partial output"


def check_dump_extraction(cli, corpus):
    """The VAE inside a SAT fine-tune dump: the transformer plugin wins detection; --plugin picks the VAE."""
    src = os.path.join(corpus, "cogvideox_sat", "1.5", "finetune_dump_tiny.pt")
    detected = json.loads(subprocess.run([cli, "detect", src, "--json"], capture_output=True, text=True).stdout)
    assert detected["selected"]["plugin"] == "cogvideox_sat", detected["selected"]
    scores = {c["plugin"]: c["score"] for c in detected["candidates"]}
    assert scores["cogvideox_vae"] == 60, scores
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r.json")
        r = convert(cli, src, tmp, "--plugin", "cogvideox_vae", "--option", "variant=1.5", "--force",
                    "--report", report)
        assert r.returncode == 0, r.stderr
        check_against_reference(tmp, torch.load(src)["module"], prefix="first_stage_model.")
        with open(report) as f:
            reasons = {why for _, why in json.load(f)["roots"][0]["dropped_samples"]}
        assert any("cogvideox_sat" in why for why in reasons), reasons


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases(
        [(f"3d-vae_tiny.pt variant={v}: 436 tensors bit-exact, config", (lambda v=v: check_variant(cli, corpus, v)))
         for v in VARIANTS] +
        [("no variant: exit 5 listing the choices, nothing written", lambda: check_variant_required(cli, corpus)),
         ("VAE extracted from a 1.5 fine-tune dump", lambda: check_dump_extraction(cli, corpus))]))
