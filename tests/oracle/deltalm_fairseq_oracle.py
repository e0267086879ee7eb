#!/usr/bin/python3
"""Oracle for deltalm_fairseq: ckptconv's output against Python references (families.md A.3, A.4).

    /usr/bin/python3 tests/oracle/deltalm_fairseq_oracle.py build/bin/ckptconv tests/corpus

pretrained -> fairseq follows DeltaLM's upgrade_state_dict_for_deltalm (prefix moves, ffn renames,
emb_layer_norm -> layernorm_embedding, embedding rows cut to the model's size), plus what the
fine-tuned model holds besides: version buffers [3.0] and the output projection tied to the
decoder embedding. The expected key list is fairseq's state_dict() order. fairseq -> pretrained
is the inverse; the round trip must give the pretrained tensors back byte for byte.
"""
import collections
import json
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "corpus"))
from families.deltalm_fairseq import fairseq_model  # noqa: E402
from oracle_cases import bits, convert_pt, detected_alone, expect_refused, run_cases, run_cli, same_tensors  # noqa: E402
from fairseq_loader import load_deltalm_strictly  # noqa: E402

# The fixtures are reduced sizes, which fairseq's deltalm_base/_large would overwrite: a user's own arch, 2 heads.
ARCH = ("--option", "arch=deltalm_tiny", "--option", "heads=2")
TINY = ("deltalm_base", "deltalm_large", "deltalm_tiny")

RENAMES = [(".ffn_1.fc1", ".fc3"), (".ffn_1.fc2", ".fc4"), (".ffn_2", ""), (".ffn.", "."),
           ("emb_layer_norm", "layernorm_embedding")]


def upgrade(w, side, vocab=None, positions=None):
    """upgrade_state_dict_for_deltalm for one side ("encoder"/"decoder"), keys re-prefixed with the side."""
    emb = "src_embedding" if side == "encoder" else "tgt_embedding"
    out = {}
    for key, t in w.items():
        if not (key.startswith(side + ".") or key.startswith(emb + ".")):
            continue
        k = key.replace(side + ".", "").replace(emb + ".", "")
        for a, b in RENAMES:
            k = k.replace(a, b)
        if "embed_tokens" in k and vocab is not None:
            t = t[:vocab]
        if "embed_positions" in k and positions is not None:
            t = t[:positions]
        out[f"{side}.{k}"] = t
    return out


def expected_fairseq(w, vocab=None):
    got = {**upgrade(w, "encoder", vocab), **upgrade(w, "decoder", vocab)}
    order = list(fairseq_model(w, vocab or w["src_embedding.embed_tokens.weight"].shape[0]))  # state_dict() order
    ref = collections.OrderedDict()
    for key in order:
        if key.endswith(".version"):
            ref[key] = torch.tensor([3.0])
        elif key == "decoder.output_projection.weight":
            ref[key] = got["decoder.embed_tokens.weight"]
        else:
            ref[key] = got[key]
    return ref


def check_base_to_fairseq(cli, corpus):
    src = os.path.join(corpus, "deltalm_fairseq", "deltalm_base_tiny.pt")
    sel = detected_alone(cli, src, "deltalm_fairseq")
    assert (sel["plugin"], sel["score"], sel["format_version"]) == ("deltalm_fairseq", 100, "pretrained"), sel
    w = torch.load(src)["weights"]
    with tempfile.TemporaryDirectory() as tmp:
        out = convert_pt(cli, src, os.path.join(tmp, "ft.pt"), "--option", "vocab_size=37", *ARCH)
        assert list(out) == ["args", "cfg", "criterion", "optimizer_history", "task_state", "extra_state", "model"], \
            list(out)
        state = load_deltalm_strictly(os.path.join(tmp, "ft.pt"), TINY)
        m = state["cfg"]["model"]
        assert (m.arch, m.encoder_layers, m.decoder_layers, m.encoder_embed_dim, m.encoder_attention_heads) == \
            ("deltalm_tiny", 12, 6, 16, 2), m
        assert (m.max_source_positions, m.share_all_embeddings, m.layernorm_embedding) == \
            (w["src_embedding.embed_positions.weight"].shape[0] - 2, False, True), m
        assert state["optimizer_history"][-1]["criterion_name"] == "LabelSmoothedCrossEntropyCriterion"
        model = out["model"]
        assert len(model) == 395, len(model)
        same_tensors(model, expected_fairseq(w, vocab=37))
        ptr = model["decoder.output_projection.weight"].data_ptr()
        assert model["decoder.embed_tokens.weight"].data_ptr() == ptr, "output projection tied to the decoder embedding"


def check_large_shared_embeddings(cli, corpus):
    src = os.path.join(corpus, "deltalm_fairseq", "deltalm_large_tiny.pt")
    w = torch.load(src)["weights"]
    with tempfile.TemporaryDirectory() as tmp:
        model = convert_pt(cli, src, os.path.join(tmp, "ft.pt"), *ARCH)["model"]
        state = load_deltalm_strictly(os.path.join(tmp, "ft.pt"), TINY)
        assert state["cfg"]["model"].share_all_embeddings is True and state["cfg"]["model"].layernorm_embedding is False
        assert len(model) == 4 + 16 * 24 + 32 * 12 + 3 == 775, len(model)
        same_tensors(model, expected_fairseq(w))
        ptrs = {model[k].data_ptr() for k in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                              "decoder.output_projection.weight")}
        assert len(ptrs) == 1, "one storage for the embeddings the source stored once"


def check_padding(cli, corpus):
    src = os.path.join(corpus, "deltalm_fairseq", "deltalm_base_tiny.pt")
    w = torch.load(src)["weights"]
    with tempfile.TemporaryDirectory() as tmp:
        model = convert_pt(cli, src, os.path.join(tmp, "ft.pt"), "--option", "vocab_size=45", "--option", "positions=12",
                           *ARCH)["model"]
        load_deltalm_strictly(os.path.join(tmp, "ft.pt"), TINY)
        e = model["encoder.embed_tokens.weight"]
        assert e.shape == (45, 16) and torch.equal(e[:40], w["src_embedding.embed_tokens.weight"])
        assert not e[40:].any(), "rows past the pretrained ones are zeros"
        assert model["decoder.embed_positions.weight"].shape == (12, 16)


def check_finetuned_to_pretrained_and_back(cli, corpus):
    ft = os.path.join(corpus, "deltalm_fairseq", "deltalm_base_finetuned_tiny.pt")
    sel = detected_alone(cli, ft, "deltalm_fairseq")
    assert (sel["format_version"], sel["target"]) == ("fairseq", "deltalm_pretrained"), sel
    model = torch.load(ft)["model"]
    with tempfile.TemporaryDirectory() as tmp:
        r = run_cli(cli, "convert", ft, "-o", os.path.join(tmp, "pre.pt"), "--report", os.path.join(tmp, "r.json"))
        assert r.returncode == 0, r.stderr
        out = torch.load(os.path.join(tmp, "pre.pt"))
        assert list(out) == ["weights"], list(out)
        weights = out["weights"]
        assert len(weights) == 392, len(weights)
        # Inverse reference: every fairseq key but the buffers and the tied projection, under its pretrained name.
        back = expected_fairseq(weights)
        for key, t in model.items():
            assert torch.equal(bits(back[key]), bits(t)), key
        with open(os.path.join(tmp, "r.json")) as f:
            left_out = json.load(f)["training_state"]  # the fairseq save's training state, by category
        assert left_out == {"optimizer": ["last_optimizer_state", "optimizer_history"], "configuration": ["args", "cfg"],
                            "trainer state": ["criterion", "extra_state", "task_state"],
                            "EMA copy": ["extra_state.ema"]}, left_out
        # --option ema=1: the EMA copy instead of model, through the same rules.
        ema = convert_pt(cli, ft, os.path.join(tmp, "ema.pt"), "--option", "ema=1")["weights"]
        ema_model = torch.load(ft)["extra_state"]["ema"]
        back_ema = expected_fairseq(ema)
        for key, t in ema_model.items():
            assert torch.equal(bits(back_ema[key]), bits(t)), key
        assert not torch.equal(ema["src_embedding.embed_tokens.weight"], weights["src_embedding.embed_tokens.weight"])
        # And forward again: the fine-tuned model's tensors, byte for byte.
        again = convert_pt(cli, os.path.join(tmp, "pre.pt"), os.path.join(tmp, "ft.pt"), *ARCH)["model"]
        load_deltalm_strictly(os.path.join(tmp, "ft.pt"), TINY)
        same_tensors(again, model)


def check_round_trip_pretrained(cli, corpus):
    src = os.path.join(corpus, "deltalm_fairseq", "deltalm_base_tiny.pt")
    w = torch.load(src)["weights"]
    with tempfile.TemporaryDirectory() as tmp:
        convert_pt(cli, src, os.path.join(tmp, "ft.pt"), *ARCH)
        back = convert_pt(cli, os.path.join(tmp, "ft.pt"), os.path.join(tmp, "pre.pt"))["weights"]
        assert set(back) == set(w), sorted(set(back) ^ set(w))[:4]
        for k, t in w.items():
            assert torch.equal(bits(back[k]), bits(t)), k


def check_custom_size_needs_an_arch(cli, corpus):
    """deltalm_base/_large assign their sizes: a reduced model named after them would not load; refused instead."""
    src = os.path.join(corpus, "deltalm_fairseq", "deltalm_base_tiny.pt")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ft.pt")
        expect_refused(cli, src, out, "--option arch=NAME")
        expect_refused(cli, src, out, "--option heads=N", "--option", "arch=deltalm_tiny")
        convert_pt(cli, src, out, "--option", "arch=deltalm_base", "--option", "heads=2")
        try:  # what the refusal prevents: fairseq's deltalm_base overwrites the sizes and the strict load fails
            load_deltalm_strictly(out)
            raise AssertionError("a reduced model loaded under deltalm_base")
        except (RuntimeError, AssertionError) as e:
            assert "size mismatch" in str(e) or "missing" in str(e), e


def check_bad_option(cli, corpus):
    src = os.path.join(corpus, "deltalm_fairseq", "deltalm_base_tiny.pt")
    with tempfile.TemporaryDirectory() as tmp:
        r = run_cli(cli, "convert", src, "-o", os.path.join(tmp, "x.pt"), "--option", "vocab_size=lots")
        assert r.returncode != 0 and "vocab_size=lots" in r.stderr, r.stderr
        assert os.listdir(tmp) == []


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases([
        ("base pretrained -> fairseq envelope (cfg path, opened by fairseq's loader, DeltaLMModel loads strictly): "
         "395 tensors, vocab cut to 37, projection tied", lambda: check_base_to_fairseq(cli, corpus)),
        ("large pretrained (no embedding LayerNorm, one embedding storage) -> 775 tensors", lambda: check_large_shared_embeddings(cli, corpus)),
        ("vocab_size/positions past the pretrained rows: zero rows", lambda: check_padding(cli, corpus)),
        ("fine-tuned fairseq -> pretrained -> fairseq", lambda: check_finetuned_to_pretrained_and_back(cli, corpus)),
        ("pretrained -> fairseq -> pretrained is byte-identical", lambda: check_round_trip_pretrained(cli, corpus)),
        ("bad --option refused, nothing written", lambda: check_bad_option(cli, corpus)),
        ("a custom size needs --option arch and heads; deltalm_base on it would not load", lambda: check_custom_size_needs_an_arch(cli, corpus)),
    ]))
