#!/usr/bin/python3
"""Oracle for xlmr_hf: ckptconv's output against Python references (families.md B.2, B.3).

    /usr/bin/python3 tests/oracle/xlmr_hf_oracle.py build/bin/ckptconv tests/corpus

HF -> fairseq is the inverse of transformers' RoBERTa converter table (B.3), with fairseq's own
upgrade applied (encoder.sentence_encoder, layernorm_embedding, split q/k/v) and its version buffer;
fairseq -> HF is that converter: 2019 names upgraded, in_proj split in thirds (q, k, v), positions
copied unchanged, token_type_embeddings zeros. Tied embedding/LM-head pairs must share storage.
"""
import json
import os
import sys
import tempfile

import sentencepiece
import torch

sys.path.insert(0, os.path.dirname(__file__))
from oracle_cases import (bits, check_metadata, convert_pt, detected_alone, expect_refused,  # noqa: E402
                          pt_provenance, read_model_folder, read_safetensors, run_cases, run_cli, same_tensors,
                          strict_load)
from fairseq_loader import load_roberta_strictly  # noqa: E402

HEADS = ("--option", "heads=2")  # the fixtures' head count (tests/corpus/families/xlmr_hf.py): no weight tells it

LAYER = [("attention.self.query", "self_attn.q_proj"), ("attention.self.key", "self_attn.k_proj"),
         ("attention.self.value", "self_attn.v_proj"), ("attention.output.dense", "self_attn.out_proj"),
         ("attention.output.LayerNorm", "self_attn_layer_norm"), ("intermediate.dense", "fc1"),
         ("output.dense", "fc2"), ("output.LayerNorm", "final_layer_norm")]
TOP = [("roberta.embeddings.word_embeddings.weight", "encoder.sentence_encoder.embed_tokens.weight"),
       ("roberta.embeddings.position_embeddings.weight", "encoder.sentence_encoder.embed_positions.weight"),
       ("roberta.embeddings.LayerNorm.weight", "encoder.sentence_encoder.layernorm_embedding.weight"),
       ("roberta.embeddings.LayerNorm.bias", "encoder.sentence_encoder.layernorm_embedding.bias"),
       ("lm_head.dense.weight", "encoder.lm_head.dense.weight"), ("lm_head.dense.bias", "encoder.lm_head.dense.bias"),
       ("lm_head.layer_norm.weight", "encoder.lm_head.layer_norm.weight"),
       ("lm_head.layer_norm.bias", "encoder.lm_head.layer_norm.bias"),
       ("lm_head.decoder.weight", "encoder.lm_head.weight"), ("lm_head.bias", "encoder.lm_head.bias")]


def layers(sd, pattern):
    return 1 + max(int(k.split(".")[pattern]) for k in sd if ".layer." in k or ".layers." in k)


def hf_to_fairseq(hf):
    hf = {("roberta." + k if not k.startswith(("roberta.", "lm_head.")) else k): t for k, t in hf.items()}
    out = {fs: hf[h] for h, fs in TOP if h in hf}
    for i in range(layers(hf, 3)):
        for h, fs in LAYER:
            for wb in ("weight", "bias"):
                out[f"encoder.sentence_encoder.layers.{i}.{fs}.{wb}"] = hf[f"roberta.encoder.layer.{i}.{h}.{wb}"]
    out["encoder.sentence_encoder.version"] = torch.tensor([3.0])
    return out


def upgrade_raw(raw):
    """fairseq's own upgrade of a 2019 file: decoder -> encoder, emb_layer_norm renamed, in_proj split."""
    out = {}
    for key, t in raw.items():
        k = "encoder." + key[len("decoder."):] if key.startswith("decoder.") else key
        k = k.replace(".emb_layer_norm.", ".layernorm_embedding.")
        if "in_proj_" in k:
            for name, part in zip(("q_proj", "k_proj", "v_proj"), t.chunk(3, dim=0)):
                out[k.replace("in_proj_", name + ".")] = part
        else:
            out[k] = t
    return out


def fairseq_to_hf(fs):
    out = {h: fs[f] for h, f in TOP if f in fs}
    for i in range(layers(fs, 3)):
        for h, f in LAYER:
            for wb in ("weight", "bias"):
                out[f"roberta.encoder.layer.{i}.{h}.{wb}"] = fs[f"encoder.sentence_encoder.layers.{i}.{f}.{wb}"]
    d = fs["encoder.sentence_encoder.embed_tokens.weight"]
    out["roberta.embeddings.token_type_embeddings.weight"] = torch.zeros(1, d.shape[1], dtype=d.dtype)
    out["lm_head.decoder.bias"] = out["lm_head.bias"]
    return out


def check_hf_to_fairseq_and_back(cli, corpus):
    src = os.path.join(corpus, "xlmr_hf", "xlmr_mlm_legacy.bin")
    sel = detected_alone(cli, src, "xlmr_hf")
    assert (sel["plugin"], sel["score"], sel["format_version"]) == ("xlmr_hf", 100, "hf"), sel
    hf = torch.load(src)
    with tempfile.TemporaryDirectory() as tmp:
        out = convert_pt(cli, src, os.path.join(tmp, "fs.pt"), *HEADS)
        check_envelope(os.path.join(tmp, "fs.pt"), heads=2, positions=hf["roberta.embeddings.position_embeddings.weight"].shape[0])
        model = out["model"]
        assert len(model) == 4 + 16 * 12 + 6 + 1, len(model)  # + version buffer
        same_tensors(model, hf_to_fairseq(hf), ordered=False)
        assert model["encoder.lm_head.weight"].data_ptr() == model["encoder.sentence_encoder.embed_tokens.weight"].data_ptr()
        back = convert_pt(cli, os.path.join(tmp, "fs.pt"), os.path.join(tmp, "hf.pt"))
        assert pt_provenance(os.path.join(tmp, "hf.pt"))["ckptconv.plugin"].startswith("xlmr_hf@")  # a flat state dict
        same_tensors(back, fairseq_to_hf(model), ordered=False)
        for k, t in hf.items():  # A -> B -> A: identical where both layouts hold the tensor
            if k in back and "token_type" not in k:
                assert torch.equal(bits(back[k]), bits(t)), k
        assert back["lm_head.decoder.weight"].data_ptr() == back["roberta.embeddings.word_embeddings.weight"].data_ptr()


def check_fairseq_2019_to_hf(cli, corpus):
    src = os.path.join(corpus, "xlmr_hf", "xlmr_fairseq_2019.pt")
    sel = detected_alone(cli, src, "xlmr_hf")
    assert (sel["format_version"], sel["target"]) == ("fairseq", "hf"), sel
    raw = torch.load(src)["model"]
    with tempfile.TemporaryDirectory() as tmp:
        hf = convert_pt(cli, src, os.path.join(tmp, "hf.pt"))
        assert len(hf) == 5 + 16 * 12 + 7, len(hf)  # no pooler; lm_head.decoder.bias tied to lm_head.bias
        same_tensors(hf, fairseq_to_hf(upgrade_raw(raw)), ordered=False)
        again = convert_pt(cli, os.path.join(tmp, "hf.pt"), os.path.join(tmp, "fs.pt"), *HEADS)["model"]
        load_roberta_strictly(os.path.join(tmp, "fs.pt"))
        expected = upgrade_raw(raw)
        expected["encoder.sentence_encoder.version"] = torch.tensor([3.0])
        same_tensors(again, expected, ordered=False)


def check_base_model_safetensors(cli, corpus):
    src = os.path.join(corpus, "xlmr_hf", "xlmr_base_model.safetensors")
    sd, _ = read_safetensors(src)
    with tempfile.TemporaryDirectory() as tmp:
        r = run_cli(cli, "convert", src, "-o", os.path.join(tmp, "fs.pt"), *HEADS)
        assert r.returncode == 0, r.stderr
        assert "no lm_head" in r.stderr, r.stderr
        same_tensors(torch.load(os.path.join(tmp, "fs.pt"))["model"], hf_to_fairseq(sd), ordered=False)
        try:  # the note is true: RobertaModel's strict load misses exactly the LM head
            load_roberta_strictly(os.path.join(tmp, "fs.pt"))
            raise AssertionError("a model without lm_head loaded strictly")
        except RuntimeError as e:
            assert "missing ['encoder.lm_head." in str(e) and "unexpected []" in str(e), e


def check_envelope(path, heads, positions):
    """fairseq's loader opens the file and builds the model from its args (target-loaders.md B.2, B.6)."""
    state = load_roberta_strictly(path)
    args = state["args"]
    model = state["model"]
    d = model["encoder.sentence_encoder.embed_tokens.weight"].shape[1]
    layers = 1 + max(int(k.split(".")[3]) for k in model if ".layers." in k)
    assert (args.arch, args.encoder_layers, args.encoder_embed_dim, args.encoder_attention_heads) == \
        ("roberta_base", layers, d, heads), args
    assert args.encoder_ffn_embed_dim == model["encoder.sentence_encoder.layers.0.fc1.weight"].shape[0]
    assert args.max_positions == args.tokens_per_sample == positions - 2, args
    assert (args.encoder_normalize_before, args.layernorm_embedding, args.untie_weights_roberta) == (False, True, False)
    assert state["optimizer_history"] == [{"criterion_name": "MaskedLmLoss", "optimizer_name": "FairseqAdam",
                                           "lr_scheduler_state": {"best": None}, "num_updates": 0}]
    assert state["extra_state"]["train_iterator"] == {"epoch": 1, "iterations_in_epoch": 0}
    record = state["extra_state"]["ckptconv"]  # provenance where fairseq's loader ignores it
    check_metadata(dict(record, format="pt"), "xlmr_hf")
    assert json.loads(record["ckptconv.options"]) == {"heads": str(heads)}, record
    assert list(state) == ["args", "optimizer_history", "extra_state", "model"], list(state)


def hf_expected_shapes(config, lm_head=True):
    """XLMRobertaForMaskedLM's persistent state (transformers >= 4.31: no position_ids / token_type_ids buffers)."""
    d, inter, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    assert d % config["num_attention_heads"] == 0, "hidden_size must be a multiple of num_attention_heads"
    e = "roberta.embeddings."
    shapes = {e + "word_embeddings.weight": (v, d), e + "position_embeddings.weight": (config["max_position_embeddings"], d),
              e + "token_type_embeddings.weight": (config["type_vocab_size"], d), e + "LayerNorm.weight": (d,),
              e + "LayerNorm.bias": (d,)}
    for i in range(config["num_hidden_layers"]):
        b = f"roberta.encoder.layer.{i}."
        for name, o, n in (("attention.self.query", d, d), ("attention.self.key", d, d), ("attention.self.value", d, d),
                           ("attention.output.dense", d, d), ("intermediate.dense", inter, d), ("output.dense", d, inter)):
            shapes.update({f"{b}{name}.weight": (o, n), f"{b}{name}.bias": (o,)})
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes.update({f"{b}{norm}.weight": (d,), f"{b}{norm}.bias": (d,)})
    if lm_head:
        shapes.update({"lm_head.dense.weight": (d, d), "lm_head.dense.bias": (d,), "lm_head.layer_norm.weight": (d,),
                       "lm_head.layer_norm.bias": (d,), "lm_head.decoder.weight": (v, d), "lm_head.bias": (v,),
                       "lm_head.decoder.bias": (v,)})
    return shapes


def check_fairseq_to_hf_folder_and_back(cli, corpus):
    """fairseq -> transformers model folder (config.json + model.safetensors, what from_pretrained reads) -> fairseq:
    every tensor back bit for bit, and the sizes the same in config.json and both envelopes."""
    src = os.path.join(corpus, "xlmr_hf", "xlmr_fairseq_2019.pt")
    source = torch.load(src)
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "hf")
        r = run_cli(cli, "convert", src, "-o", folder, *HEADS)
        assert r.returncode == 0, r.stderr
        assert "sentencepiece.bpe.model" in r.stderr, "the report says which tokenizer file to add"
        config, sd, meta = read_model_folder(folder)
        args = source["args"]
        assert (config["architectures"], config["model_type"]) == (["XLMRobertaForMaskedLM"], "xlm-roberta"), config
        assert (config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"],
                config["num_attention_heads"], config["max_position_embeddings"]) == \
            (args.encoder_layers, args.encoder_embed_dim, args.encoder_ffn_embed_dim, args.encoder_attention_heads,
             args.max_positions + 2), config
        check_metadata(meta, "xlmr_hf")
        assert meta["ckptconv.target"] == "hf" and json.loads(meta["ckptconv.sources"]) == \
            [["xlmr_fairseq_2019.pt", os.path.getsize(src)]], meta
        strict_load("XLMRobertaForMaskedLM", sd, hf_expected_shapes(config),
                    tied={"lm_head.decoder.weight", "lm_head.decoder.bias"})
        same_tensors(sd, {k: v for k, v in fairseq_to_hf(upgrade_raw(source["model"])).items() if k in sd},
                     ordered=False)
        back = os.path.join(tmp, "fs.pt")
        convert_pt(cli, os.path.join(folder, "model.safetensors"), back, *HEADS)
        state = load_roberta_strictly(back)
        expected_fs = upgrade_raw(source["model"])
        expected_fs["encoder.sentence_encoder.version"] = torch.tensor([3.0])
        same_tensors(state["model"], expected_fs, ordered=False)
        for field in ("encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
                      "max_positions"):
            assert getattr(state["args"], field) == getattr(args, field), field
        # And HF folder -> fairseq -> HF folder: the same tensors and the same config.json fields.
        again = os.path.join(tmp, "hf_again")
        r = run_cli(cli, "convert", back, "-o", again, *HEADS)
        assert r.returncode == 0, r.stderr
        config2, sd2, _ = read_model_folder(again)
        assert config2 == config, {k: (config.get(k), config2.get(k)) for k in set(config) | set(config2)
                                   if config.get(k) != config2.get(k)}
        same_tensors(sd2, sd, ordered=False)


def check_heads_needed(cli, corpus):
    """No weight tells the head count: a custom size without --option heads is refused, never guessed."""
    src = os.path.join(corpus, "xlmr_hf", "xlmr_mlm_legacy.bin")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "fs.pt")
        expect_refused(cli, src, out, "--option heads=N")
        expect_refused(cli, src, out, "does not divide the width 16", "--option", "heads=3")
        r = run_cli(cli, "convert", src, "-o", os.path.join(tmp, "fs.safetensors"), *HEADS)
        assert r.returncode == 0 and "need a pt output" in r.stderr, r.stderr


def check_release_folder_tokenizer(cli, corpus):
    """A fairseq release folder (model.pt, dict.txt, sentencepiece.bpe.model) -> transformers folder: the
    sentencepiece model is carried unchanged, which XLMRobertaTokenizer reads with fairseq's ids (spm id + 1,
    <mask> last), so its vocabulary is the embedding's rows and its pieces are dict.txt's in order."""
    release = os.path.join(corpus, "xlmr_hf", "fairseq_release")
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "hf")
        r = run_cli(cli, "convert", os.path.join(release, "model.pt"), "-o", folder, *HEADS)
        assert r.returncode == 0, r.stderr
        assert "sentencepiece.bpe.model copied unchanged" in r.stderr, r.stderr
        assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors", "sentencepiece.bpe.model"]
        with open(os.path.join(folder, "sentencepiece.bpe.model"), "rb") as a, \
                open(os.path.join(release, "sentencepiece.bpe.model"), "rb") as b:
            assert a.read() == b.read()
        sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(folder, "sentencepiece.bpe.model"))
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        assert len(sp) + 1 + 1 == config["vocab_size"], (len(sp), config["vocab_size"])  # fairseq offset, <mask>
        with open(os.path.join(release, "dict.txt")) as f:
            words = [line.split()[0] for line in f]
        assert words == [sp.id_to_piece(i) for i in range(3, len(sp))], "dict.txt and the spm model disagree"


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases([
        ("HF MaskedLM (legacy .bin) -> fairseq (envelope opened by fairseq's loader, model loads strictly) -> HF, "
         "ties kept", lambda: check_hf_to_fairseq_and_back(cli, corpus)),
        ("fairseq 2019 model.pt (args Namespace, in_proj) -> HF -> fairseq", lambda: check_fairseq_2019_to_hf(cli, corpus)),
        ("HF base model safetensors -> fairseq (no lm_head noted, and the strict load misses it)",
         lambda: check_base_model_safetensors(cli, corpus)),
        ("fairseq 2019 -> transformers folder -> fairseq -> transformers folder: tensors, sizes and config kept",
         lambda: check_fairseq_to_hf_folder_and_back(cli, corpus)),
        ("fairseq release folder -> transformers folder: sentencepiece.bpe.model carried, ids as fairseq's dict",
         lambda: check_release_folder_tokenizer(cli, corpus)),
        ("heads: refused without --option heads on a custom size, or when it does not divide the width",
         lambda: check_heads_needed(cli, corpus)),
    ]))
