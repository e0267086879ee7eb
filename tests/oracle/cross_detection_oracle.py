#!/usr/bin/python3
"""Every family fixture is claimed by its own plugin alone: no other plugin scores above
CKPTCONV_SCORE_RETRY (25) on it, and generic checkpoints are claimed by none.

    /usr/bin/python3 tests/oracle/cross_detection_oracle.py build/bin/ckptconv tests/corpus
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from oracle_cases import run_cases  # noqa: E402

RETRY = 25
EXPECTED = {
    "cogvideox_sat/1.0/t2v_tiny.pt": "cogvideox_sat",
    "cogvideox_sat/1.0/i2v_tiny.pt": "cogvideox_sat",
    "cogvideox_sat/1.5/t2v_tiny.pt": "cogvideox_sat",
    "cogvideox_sat/1.5/i2v_tiny.pt": "cogvideox_sat",
    "cogvideox_vae/3d-vae_tiny.pt": "cogvideox_vae",
    "t2m_cut/t2m_two_roots.pt": "t2m_cut",
    "clip_vision/clip_model_b16_legacy.bin": "clip_vision",
    "clip_vision/clip_vision_l14.safetensors": "clip_vision",
    "clip_vision/deepseek_ocr_tiny.pt": "clip_vision",
    "deltalm_fairseq/deltalm_base_tiny.pt": "deltalm_fairseq",
    "deltalm_fairseq/deltalm_large_tiny.pt": "deltalm_fairseq",
    "deltalm_fairseq/deltalm_base_finetuned_tiny.pt": "deltalm_fairseq",
    "xlmr_hf/xlmr_mlm_legacy.bin": "xlmr_hf",
    "xlmr_hf/xlmr_fairseq_2019.pt": "xlmr_hf",
    "xlmr_hf/xlmr_base_model.safetensors": "xlmr_hf",
    "cogvideox_vae/sat_folder_1.5/t5-v1_1-xxl/pytorch_model.bin": None,
    "torch/fairseq_like.pt": None,
    "torch/nested_roots.pt": None,
    "torch/tied.pt": None,
    "safetensors/simple.safetensors": None,
}


def check(cli, corpus, rel, owner):
    r = subprocess.run([cli, "detect", os.path.join(corpus, rel), "--json"], capture_output=True, text=True)
    scores = {c["plugin"]: c["score"] for c in json.loads(r.stdout)["candidates"]}
    claimed = {p: s for p, s in scores.items() if s > RETRY}
    assert claimed == ({owner: 100} if owner else {}), (rel, scores)


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases([(f"{rel}: {owner or 'no plugin'}", lambda rel=rel, owner=owner: check(cli, corpus, rel, owner))
                        for rel, owner in EXPECTED.items()]))
