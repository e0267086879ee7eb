"""DeltaLM checkpoints (families.md A) with the full key layout and the real layer counts at reduced
width: pretrained `{"weights": ...}` files shaped like deltalm-base (12+6 layers, embedding LayerNorms)
and deltalm-large (24+12, none), and a fairseq fine-tuned checkpoint with args/cfg/optimizer history."""
import argparse
import collections

import torch


def pretrained(enc_layers, dec_layers, D=16, F=32, vocab=40, positions=10, emb_layer_norm=True, shared=False):
    w = collections.OrderedDict()

    def put(key, *shape):
        w[key] = torch.randn(*shape) * 0.02

    for side in ("src_embedding", "tgt_embedding"):
        if side == "tgt_embedding" and shared:
            w["tgt_embedding.embed_tokens.weight"] = w["src_embedding.embed_tokens.weight"]
        else:
            put(f"{side}.embed_tokens.weight", vocab, D)
        put(f"{side}.embed_positions.weight", positions, D)
        if emb_layer_norm:
            put(f"{side}.emb_layer_norm.weight", D); put(f"{side}.emb_layer_norm.bias", D)

    def attn(b):
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            put(f"{b}.{p}.weight", D, D); put(f"{b}.{p}.bias", D)

    def ffn(b):
        put(f"{b}.fc1.weight", F, D); put(f"{b}.fc1.bias", F)
        put(f"{b}.fc2.weight", D, F); put(f"{b}.fc2.bias", D)

    def norm(b):
        put(f"{b}.weight", D); put(f"{b}.bias", D)

    for i in range(enc_layers):
        b = f"encoder.layers.{i}"
        attn(b + ".self_attn"); norm(b + ".self_attn_layer_norm"); ffn(b + ".ffn"); norm(b + ".final_layer_norm")
    for i in range(dec_layers):
        b = f"decoder.layers.{i}"
        attn(b + ".self_attn"); norm(b + ".self_attn_layer_norm")
        ffn(b + ".ffn_1"); norm(b + ".ffn_layer_norm")
        attn(b + ".encoder_attn"); norm(b + ".encoder_attn_layer_norm")
        ffn(b + ".ffn_2"); norm(b + ".final_layer_norm")
    return w


def fairseq_model(w, vocab):
    """What fairseq's DeltaLM holds after upgrade_state_dict_for_deltalm with --share-all-embeddings, in
    state_dict() order (families.md A.3, A.4): one embedding storage under three keys."""
    m = collections.OrderedDict()
    shared = w["tgt_embedding.embed_tokens.weight"][:vocab].clone()
    m["encoder.version"] = torch.tensor([3.0])
    m["encoder.embed_tokens.weight"] = shared
    m["encoder.embed_positions.weight"] = w["src_embedding.embed_positions.weight"].clone()
    for wb in ("weight", "bias"):
        if f"src_embedding.emb_layer_norm.{wb}" in w:
            m[f"encoder.layernorm_embedding.{wb}"] = w[f"src_embedding.emb_layer_norm.{wb}"].clone()
    enc = 1 + max(int(k.split(".")[2]) for k in w if k.startswith("encoder.layers."))
    dec = 1 + max(int(k.split(".")[2]) for k in w if k.startswith("decoder.layers."))

    def copy(dst, src):
        for wb in ("weight", "bias"):
            m[f"{dst}.{wb}"] = w[f"{src}.{wb}"].clone()

    for i in range(enc):
        s, d = f"encoder.layers.{i}", f"encoder.layers.{i}"
        for p in ("k_proj", "v_proj", "q_proj", "out_proj"):
            copy(f"{d}.self_attn.{p}", f"{s}.self_attn.{p}")
        copy(f"{d}.self_attn_layer_norm", f"{s}.self_attn_layer_norm")
        copy(f"{d}.fc1", f"{s}.ffn.fc1"); copy(f"{d}.fc2", f"{s}.ffn.fc2")
        copy(f"{d}.final_layer_norm", f"{s}.final_layer_norm")
    m["decoder.version"] = torch.tensor([3.0])
    m["decoder.embed_tokens.weight"] = shared
    m["decoder.embed_positions.weight"] = w["tgt_embedding.embed_positions.weight"].clone()
    for wb in ("weight", "bias"):
        if f"tgt_embedding.emb_layer_norm.{wb}" in w:
            m[f"decoder.layernorm_embedding.{wb}"] = w[f"tgt_embedding.emb_layer_norm.{wb}"].clone()
    for i in range(dec):
        s = d = f"decoder.layers.{i}"
        for p in ("k_proj", "v_proj", "q_proj", "out_proj"):
            copy(f"{d}.self_attn.{p}", f"{s}.self_attn.{p}")
        copy(f"{d}.self_attn_layer_norm", f"{s}.self_attn_layer_norm")
        for p in ("k_proj", "v_proj", "q_proj", "out_proj"):
            copy(f"{d}.encoder_attn.{p}", f"{s}.encoder_attn.{p}")
        copy(f"{d}.encoder_attn_layer_norm", f"{s}.encoder_attn_layer_norm")
        copy(f"{d}.fc1", f"{s}.ffn_2.fc1"); copy(f"{d}.fc2", f"{s}.ffn_2.fc2")
        copy(f"{d}.fc3", f"{s}.ffn_1.fc1"); copy(f"{d}.fc4", f"{s}.ffn_1.fc2")
        copy(f"{d}.ffn_layer_norm", f"{s}.ffn_layer_norm")
        copy(f"{d}.final_layer_norm", f"{s}.final_layer_norm")
    m["decoder.output_projection.weight"] = shared
    return m


def write(out, save):
    torch.manual_seed(5)
    base = f"{out}/deltalm_fairseq"
    w = pretrained(12, 6)
    assert len(w) == 8 + 16 * 12 + 32 * 6 == 392, len(w)
    save({"weights": w}, f"{base}/deltalm_base_tiny.pt")
    large = pretrained(24, 12, emb_layer_norm=False, shared=True)
    assert len(large) == 4 + 16 * 24 + 32 * 12 == 772, len(large)
    save({"weights": large}, f"{base}/deltalm_large_tiny.pt")
    # A fairseq fine-tune of the base file: dict of 37 rows (the pretrained 40 cut), everything around it.
    model = fairseq_model(w, vocab=37)
    assert len(model) == 395, len(model)
    args = argparse.Namespace(_name="deltalm_base", arch="deltalm_base", encoder_embed_dim=16,
                              pretrained_deltalm_checkpoint="/data/deltalm-base.pt", share_all_embeddings=True)
    params = list(model)
    ckpt = {
        "args": None,
        "cfg": {"model": args, "task": {"_name": "translation", "source_lang": "de", "target_lang": "en"}},
        "model": model,
        "criterion": None,
        "optimizer_history": [{"criterion_name": "LabelSmoothedCrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": 3.21}, "num_updates": 1200}],
        "task_state": {},
        "extra_state": {"previous_training_time": 812.5, "val_loss": 3.21,
                        "train_iterator": {"version": 2, "epoch": 3, "iterations_in_epoch": 17, "shuffle": True},
                        # --store-ema: a second model under the same names (training-saves.md 5.3)
                        "ema": {k: t.clone() if k.endswith("version") or not t.is_floating_point() else t * 0.5
                                for k, t in model.items()}},
        "last_optimizer_state": {
            "state": {0: {"step": 1200, "exp_avg": torch.zeros(37, 16), "exp_avg_sq": torch.zeros(37, 16)}},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.98), "params": list(range(len(params)))}]},
    }
    save(ckpt, f"{base}/deltalm_base_finetuned_tiny.pt")
