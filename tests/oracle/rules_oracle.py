#!/usr/bin/python3
"""Oracle: a rule-only plan (configs/example_rules.yaml) does exactly what the rules say.

    /usr/bin/python3 tests/oracle/rules_oracle.py build/bin/ckptconv tests/corpus configs/example_rules.yaml
"""
import json
import os
import subprocess
import sys
import tempfile

import torch

from oracle_cases import bits, run_cases


def check(cli, corpus, rules):
    src = os.path.join(corpus, "torch", "fairseq_like.pt")
    with tempfile.TemporaryDirectory() as tmp:
        out, report = os.path.join(tmp, "out.pt"), os.path.join(tmp, "report.json")
        r = subprocess.run([cli, "convert", src, "-o", out, "--config", rules, "--report", report, "-q"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        got = torch.load(out)
        with open(report) as f:
            rep = json.load(f)
    model = torch.load(src)["model"]
    assert list(got["word_embeddings.weight"].shape) == [8, 4]
    assert torch.equal(bits(got["word_embeddings.weight"]), bits(model["encoder.embed_tokens.weight"]))
    assert "blocks.0.fc1.weight" not in got and not any(k.startswith("encoder.") for k in got)
    assert got["args"] == torch.load(src)["args"], "non-tensor entries must be kept"
    assert "model" not in got, "the model root was flattened by output_root"
    root = rep["roots"][0]
    assert (root["total_in"], root["total_out"], root["kept"], root["renamed"], root["dropped"]) == (2, 1, 1, 1, 1), root
    assert root["dropped_samples"][0][1] == "feed-forward weights are re-initialised by the target recipe"


if __name__ == "__main__":
    cli, corpus, rules = sys.argv[1:4]
    sys.exit(run_cases([("fairseq_like.pt with example_rules.yaml", lambda: check(cli, corpus, rules))]))
