"""XLM-R checkpoints (families.md B) with the full key layout and the base layer count at reduced
width: a Hugging Face XLMRobertaForMaskedLM saved in the legacy torch format (position_ids, pooler,
lm_head.decoder tied to the word embeddings), a raw 2019 fairseq model.pt (args Namespace,
decoder.sentence_encoder, fused in_proj), and a base-model XLMRobertaModel as safetensors."""
import argparse
import collections
import os
import shutil

import torch

from families import spm, training_saves

LAYERS, D, F, VOCAB, POSITIONS = 12, 16, 32, 50, 12


def hf_mlm(prefix="roberta.", lm_head=True, position_ids=True, pooler=True):
    sd = collections.OrderedDict()

    def put(key, *shape):
        sd[key] = torch.randn(*shape) * 0.02

    e = prefix + "embeddings."
    if position_ids:
        sd[e + "position_ids"] = torch.arange(POSITIONS).unsqueeze(0)
    put(e + "word_embeddings.weight", VOCAB, D)
    put(e + "position_embeddings.weight", POSITIONS, D)
    put(e + "token_type_embeddings.weight", 1, D)
    put(e + "LayerNorm.weight", D); put(e + "LayerNorm.bias", D)
    for i in range(LAYERS):
        b = f"{prefix}encoder.layer.{i}."
        for p in ("query", "key", "value"):
            put(b + f"attention.self.{p}.weight", D, D); put(b + f"attention.self.{p}.bias", D)
        put(b + "attention.output.dense.weight", D, D); put(b + "attention.output.dense.bias", D)
        put(b + "attention.output.LayerNorm.weight", D); put(b + "attention.output.LayerNorm.bias", D)
        put(b + "intermediate.dense.weight", F, D); put(b + "intermediate.dense.bias", F)
        put(b + "output.dense.weight", D, F); put(b + "output.dense.bias", D)
        put(b + "output.LayerNorm.weight", D); put(b + "output.LayerNorm.bias", D)
    if pooler:
        put(prefix + "pooler.dense.weight", D, D); put(prefix + "pooler.dense.bias", D)
    if lm_head:
        put("lm_head.bias", VOCAB)
        put("lm_head.dense.weight", D, D); put("lm_head.dense.bias", D)
        put("lm_head.layer_norm.weight", D); put("lm_head.layer_norm.bias", D)
        sd["lm_head.decoder.weight"] = sd[e + "word_embeddings.weight"]  # tied: one storage
    return sd


def fairseq_raw():
    """xlmr.base/model.pt as released in 2019: decoder.sentence_encoder, emb_layer_norm, in_proj q;k;v."""
    sd = collections.OrderedDict()

    def put(key, *shape):
        sd[key] = torch.randn(*shape) * 0.02

    se = "decoder.sentence_encoder."
    put(se + "embed_tokens.weight", VOCAB, D)
    put(se + "embed_positions.weight", POSITIONS, D)
    put(se + "emb_layer_norm.weight", D); put(se + "emb_layer_norm.bias", D)
    for i in range(LAYERS):
        b = f"{se}layers.{i}."
        put(b + "self_attn.in_proj_weight", 3 * D, D); put(b + "self_attn.in_proj_bias", 3 * D)
        put(b + "self_attn.out_proj.weight", D, D); put(b + "self_attn.out_proj.bias", D)
        put(b + "self_attn_layer_norm.weight", D); put(b + "self_attn_layer_norm.bias", D)
        put(b + "fc1.weight", F, D); put(b + "fc1.bias", F)
        put(b + "fc2.weight", D, F); put(b + "fc2.bias", D)
        put(b + "final_layer_norm.weight", D); put(b + "final_layer_norm.bias", D)
    sd["decoder.lm_head.weight"] = sd[se + "embed_tokens.weight"]  # tied
    put("decoder.lm_head.bias", VOCAB)
    put("decoder.lm_head.dense.weight", D, D); put("decoder.lm_head.dense.bias", D)
    put("decoder.lm_head.layer_norm.weight", D); put("decoder.lm_head.layer_norm.bias", D)
    return sd


def write(out, save, safetensors_bytes):
    torch.manual_seed(7)
    base = f"{out}/xlmr_hf"
    mlm = hf_mlm()
    assert len(mlm) == 5 + 16 * LAYERS + 8 + 1 == 206, len(mlm)  # 205 + position_ids, as 2019-23 saves
    save(mlm, f"{base}/xlmr_mlm_legacy.bin", _use_new_zipfile_serialization=False)
    raw = fairseq_raw()
    assert len(raw) == 4 + 12 * LAYERS + 6 == 154, len(raw)
    args = argparse.Namespace(arch="roberta_base", encoder_layers=LAYERS, encoder_embed_dim=D,
                              encoder_ffn_embed_dim=F, encoder_attention_heads=2, max_positions=POSITIONS - 2)
    save({"args": args, "model": raw, "optimizer_history": [{"num_updates": 0}], "extra_state": {}},
         f"{base}/xlmr_fairseq_2019.pt", _use_new_zipfile_serialization=False)
    write_release_folder(f"{base}/fairseq_release", f"{base}/xlmr_fairseq_2019.pt")
    training_saves.write_fairseq_training_save(f"{base}/xlmr_fairseq_training_save.pt", save, args, raw)
    model = hf_mlm(prefix="", lm_head=False, position_ids=False)
    os.makedirs(base, exist_ok=True)
    with open(f"{base}/xlmr_base_model.safetensors", "wb") as f:
        f.write(safetensors_bytes(model, {"format": "pt"}))
    training_saves.write_hf_trainer_checkpoint(f"{base}/trainer_run/checkpoint-500",
                                               f"{base}/xlmr_base_model.safetensors", save)
    training_saves.write_lightning_checkpoint(f"{base}/lightning_epoch3.ckpt", model, save)


def write_release_folder(folder, model):
    """What fairseq's XLM-R download unpacks to: model.pt, dict.txt and sentencepiece.bpe.model. The
    dictionary is fairseq's <s> <pad> </s> <unk>, then the sentencepiece pieces from id 3 (the spm model's
    <unk> <s> </s> are fairseq's own specials), then <mask>: VOCAB rows."""
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(model, f"{folder}/model.pt")  # the same bytes: git stores them once
    bpe = spm.train(VOCAB - 2, unk_id=0, bos_id=1, eos_id=2, pad_id=-1)  # XLM-R's special ids
    with open(f"{folder}/sentencepiece.bpe.model", "wb") as f:
        f.write(bpe)
    with open(f"{folder}/dict.txt", "w") as f:
        f.writelines(f"{piece} {1000 - n}\n" for n, piece in enumerate(spm.pieces(bpe)[3:]))
