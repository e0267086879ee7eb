"""fairseq's checkpoint loading as target-loaders.md B.2-B.3 describes it, written from the spec (fairseq itself is
not a Debian package): what load_checkpoint_to_cpu requires of the file, and the state-dict keys and shapes of the
RobertaModel that load_model_ensemble_and_task builds from the stored args, for its strict load_state_dict."""
import argparse

import torch

from oracle_cases import strict_load


def load_checkpoint_to_cpu(path):
    """torch.load as fairseq does it, then _upgrade_state_dict's requirements; raises KeyError where fairseq would."""
    state = torch.load(path, map_location="cpu")  # fairseq passes weights_only=False: Namespaces must load
    if state.get("args") is None and state.get("cfg") is None:
        raise RuntimeError("Neither args nor cfg exist in state keys = " + str(list(state)))
    if "optimizer_history" not in state:
        state["optimizer_history"] = [{"criterion_name": "CrossEntropyCriterion", "best_loss": state["best_loss"]}]
        state["last_optimizer_state"] = state["optimizer"]
    history = state["optimizer_history"]
    assert isinstance(history, list) and history and all(isinstance(h, dict) for h in history), history
    if "lr_scheduler_state" not in history[-1]:
        history[-1]["lr_scheduler_state"] = {"best": history[-1]["best_loss"]}
    history[-1].setdefault("optimizer_name", "FairseqNAG")
    history[-1].setdefault("num_updates", 0)
    if "extra_state" not in state:
        state["extra_state"] = {"epoch": state["epoch"], "batch_offset": state["batch_offset"],
                                "val_loss": state["val_loss"]}
    assert isinstance(state["extra_state"], dict), state["extra_state"]
    state["extra_state"].setdefault("train_iterator", {"epoch": 1, "iterations_in_epoch": 0})
    args = state.get("args")
    if args is not None:
        assert isinstance(args, argparse.Namespace), type(args)
        if not hasattr(args, "task"):
            args.task = "translation"
    return state


def roberta_expected_shapes(args, vocab):
    """RobertaModel's state_dict() from `args` (base_architecture fills what args lack), names and shapes."""
    get = lambda name, default: getattr(args, name, default)  # noqa: E731  (fairseq's safe_getattr)
    layers, d = get("encoder_layers", 12), get("encoder_embed_dim", 768)
    ffn, heads = get("encoder_ffn_embed_dim", 3072), get("encoder_attention_heads", 12)
    assert d % heads == 0, f"MultiheadAttention: embed_dim {d} must be divisible by num_heads {heads}"
    positions = get("max_positions", get("tokens_per_sample", 512))
    p = "encoder.sentence_encoder."
    shapes = {p + "version": (1,), p + "embed_tokens.weight": (vocab, d)}
    if get("encoder_learned_pos", True):
        shapes[p + "embed_positions.weight"] = (positions + 2, d)  # padding_idx + 1 rows in front
    if get("layernorm_embedding", True):
        shapes.update({p + "layernorm_embedding.weight": (d,), p + "layernorm_embedding.bias": (d,)})
    for i in range(layers):
        b = f"{p}layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            shapes.update({f"{b}self_attn.{proj}.weight": (d, d), f"{b}self_attn.{proj}.bias": (d,)})
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            shapes.update({f"{b}{norm}.weight": (d,), f"{b}{norm}.bias": (d,)})
        shapes.update({f"{b}fc1.weight": (ffn, d), f"{b}fc1.bias": (ffn,), f"{b}fc2.weight": (d, ffn),
                       f"{b}fc2.bias": (d,)})
    if get("encoder_normalize_before", False):
        shapes.update({p + "layer_norm.weight": (d,), p + "layer_norm.bias": (d,)})
    shapes.update({"encoder.lm_head.weight": (vocab, d), "encoder.lm_head.bias": (vocab,),
                   "encoder.lm_head.dense.weight": (d, d), "encoder.lm_head.dense.bias": (d,),
                   "encoder.lm_head.layer_norm.weight": (d,), "encoder.lm_head.layer_norm.bias": (d,)})
    return shapes


def load_roberta_strictly(path):
    """load_checkpoint_to_cpu, then the model built from args loads the state strictly; returns the state."""
    state = load_checkpoint_to_cpu(path)
    model = state["model"]
    vocab = model["encoder.sentence_encoder.embed_tokens.weight"].shape[0]  # dict.txt rows (+ <mask>) in fairseq
    strict_load("RobertaModel", model, roberta_expected_shapes(state["args"], vocab))
    return state


# DeltaLM's archs assign (not default) their sizes (target-loaders.md B.4).
DELTALM_ARCHS = {
    "deltalm_base": dict(encoder_embed_dim=768, encoder_ffn_embed_dim=3072, encoder_layers=12, encoder_attention_heads=12,
                         decoder_embed_dim=768, decoder_ffn_embed_dim=3072, decoder_layers=6, decoder_attention_heads=12,
                         layernorm_embedding=True),
    "deltalm_large": dict(encoder_embed_dim=1024, encoder_ffn_embed_dim=4096, encoder_layers=24,
                          encoder_attention_heads=16, decoder_embed_dim=1024, decoder_ffn_embed_dim=4096,
                          decoder_layers=12, decoder_attention_heads=16, layernorm_embedding=False),
}


def deltalm_expected_shapes(m, vocab):
    """DeltaLMModel's state_dict() (families.md A.4) from the model config after its arch function ran."""
    d, f = m.encoder_embed_dim, m.encoder_ffn_embed_dim
    for side in ("encoder", "decoder"):
        assert getattr(m, side + "_embed_dim") % getattr(m, side + "_attention_heads") == 0, f"{side}: heads"
    shapes = {"encoder.version": (1,), "encoder.embed_tokens.weight": (vocab, d),
              "encoder.embed_positions.weight": (m.max_source_positions + 2, d)}
    norm = lambda name: {name + ".weight": (d,), name + ".bias": (d,)}  # noqa: E731
    linear = lambda name, o, i: {name + ".weight": (o, i), name + ".bias": (o,)}  # noqa: E731
    if m.layernorm_embedding:
        shapes.update(norm("encoder.layernorm_embedding"))
    for i in range(m.encoder_layers):
        b = f"encoder.layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            shapes.update(linear(b + "self_attn." + proj, d, d))
        shapes.update({**norm(b + "self_attn_layer_norm"), **linear(b + "fc1", f, d), **linear(b + "fc2", d, f),
                       **norm(b + "final_layer_norm")})
    shapes.update({"decoder.version": (1,), "decoder.embed_tokens.weight": (vocab, d),
                   "decoder.embed_positions.weight": (m.max_target_positions + 2, d)})
    if m.layernorm_embedding:
        shapes.update(norm("decoder.layernorm_embedding"))
    for i in range(m.decoder_layers):
        b = f"decoder.layers.{i}."
        for attn in ("self_attn", "encoder_attn"):
            for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                shapes.update(linear(f"{b}{attn}.{proj}", d, d))
            shapes.update(norm(f"{b}{attn}_layer_norm"))
        shapes.update({**linear(b + "fc1", f, d), **linear(b + "fc2", d, f), **linear(b + "fc3", f, d),
                       **linear(b + "fc4", d, f), **norm(b + "ffn_layer_norm"), **norm(b + "final_layer_norm")})
    shapes["decoder.output_projection.weight"] = (vocab, d)
    return shapes


def load_deltalm_strictly(path, registered=("deltalm_base", "deltalm_large")):
    """load_checkpoint_to_cpu, setup_task and build_model from cfg, then the strict load; `registered` are the arch
    names fairseq knows (the user's own arch applies cfg values unchanged)."""
    state = load_checkpoint_to_cpu(path)
    assert state["args"] is None and isinstance(state["cfg"], dict), "a cfg-path envelope"
    cfg = state["cfg"]
    for group in ("common", "dataset"):  # the task dataclass interpolates ${common.seed} and ${dataset.*}
        assert isinstance(cfg[group], dict), group
    task = cfg["task"]
    assert isinstance(task, dict) and task["_name"] == "translation" and "data" in task, task
    m = cfg["model"]
    assert isinstance(m, argparse.Namespace), type(m)
    arch = m._name
    assert arch == m.arch and arch in registered, f"unknown arch {arch}"
    m = argparse.Namespace(**vars(m))
    for k, v in DELTALM_ARCHS.get(arch, {}).items():
        setattr(m, k, v)
    assert m.pretrained_deltalm_checkpoint == "", "building the model would read pretrained_deltalm_checkpoint"
    model = state["model"]
    vocab = model["encoder.embed_tokens.weight"].shape[0]
    if m.share_all_embeddings:
        assert model["decoder.embed_tokens.weight"].shape[0] == vocab, "--share-all-embeddings needs one dictionary"
    strict_load("DeltaLMModel", model, deltalm_expected_shapes(m, vocab))
    return state
