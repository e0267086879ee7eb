#!/usr/bin/python3
"""Oracle: t2m_cut against a Python reference cut written here from the issue's rules.

    /usr/bin/python3 tests/oracle/t2m_cut_oracle.py build/bin/ckptconv tests/corpus
"""
import json
import os
import subprocess
import sys
import tempfile

import torch

from oracle_cases import bits, run_cases

ROOTS = ("model_ema", "encoder")


def reference_cut(state_dict):
    """Drop every key under t5_encoder., rename the ella_model. prefix to sta_model., keep the rest in order."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith("t5_encoder."):
            continue
        out["sta_model." + k[len("ella_model."):] if k.startswith("ella_model.") else k] = v
    return out


def convert(cli, src, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        out, report = os.path.join(tmp, "out.pt"), os.path.join(tmp, "report.json")
        r = subprocess.run([cli, "convert", src, "-o", out, "--report", report, *extra], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        with open(report) as f:
            return torch.load(out), json.load(f), r.stderr


def check_cut(cli, corpus):
    src = os.path.join(corpus, "t2m_cut", "t2m_two_roots.pt")
    got, report, text = convert(cli, src)
    source = torch.load(src)
    assert report["plugin"] == "t2m_cut" and report["format_version"] == "1.0", report
    assert report["variant"] == "default", report["variant"]
    for root in ROOTS:
        expected = reference_cut(source[root])
        assert len(source[root]) == 686 and len(got[root]) == 466, (root, len(got[root]))
        assert list(got[root]) == list(expected), f"{root}: keys or their order differ"
        for k, v in expected.items():
            assert got[root][k].dtype == v.dtype and got[root][k].shape == v.shape, k
            assert torch.equal(bits(got[root][k]), bits(v)), f"{root}/{k}: bytes differ"
        line = next(line for line in text.splitlines() if line.startswith(f"[{root}]"))
        for field in ("total_in=686", "total_out=466", "kept=466", "dropped=220", "renamed=69"):
            assert field in line, (field, line)
    assert [r["name"] for r in report["roots"]] == list(ROOTS)
    for r in report["roots"]:
        assert (r["total_in"], r["total_out"], r["kept"], r["dropped"], r["renamed"]) == (686, 466, 466, 220, 69), r
    for extra in ("step", "epoch", "lr"):
        assert got[extra] == source[extra], extra


def check_user_rules_override(cli, corpus):
    """A user's `rules:` replace the shipped file when the plugin is chosen, and work with no plugin at all."""
    src = os.path.join(corpus, "t2m_cut", "t2m_two_roots.pt")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "my_cut.yaml")
        with open(cfg, "w") as f:
            f.write('rules:\n  roots: [model_ema]\n  drop:\n    - prefix: "t5_encoder."\n      reason: "mine"\n'
                    '  rename:\n    - prefix: "ella_model."\n      to: "ella."\n')
        for extra in (["--plugin", "t2m_cut"], []):
            got, report, _ = convert(cli, src, "--config", cfg, *extra)
            assert "encoder" not in got, "the encoder root was not selected"
            assert "ella.connector.latents" in got["model_ema"], list(got["model_ema"])[:5]
            assert report["plugin"] == ("t2m_cut" if extra else "rules:" + cfg), report["plugin"]


def check_detection(cli, corpus):
    r = subprocess.run([cli, "detect", os.path.join(corpus, "t2m_cut", "prefixes_only.pt"), "--json"],
                       capture_output=True, text=True)
    found = json.loads(r.stdout)
    scores = {c["plugin"]: c["score"] for c in found["candidates"]}
    assert scores.get("t2m_cut") == 50, scores


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases([
        ("t2m_two_roots.pt: 686 -> 466 per root, bit-exact", lambda: check_cut(cli, corpus)),
        ("user rules override the shipped file", lambda: check_user_rules_override(cli, corpus)),
        ("prefixes without anchors score 50", lambda: check_detection(cli, corpus)),
    ]))
