"""What training runs write around the model (training-saves.md 2, 3.2, 5): SAT/DeepSpeed engine saves with
their whole training state, SAT LoRA fine-tunes (full engine dumps with .original. base weights), and a fairseq
save with optimizer history, EMA copy and iterator state. Real layer counts, reduced width."""
import collections
import dataclasses
import json
import os
import random
import shutil

import numpy as np
import torch

from families.deepspeed import _module

from families.cogvideox_vae import sat_vae

P = "model.diffusion_model."


def engine_state(module, iteration, optimizer_params):
    """The top level of mp_rank_00_model_states.pt as SAT's save_ds_checkpoint and DeepSpeed's _save_checkpoint
    leave it: `module`, the engine's bookkeeping, SAT's client state (RNG, scheduler) and an optimizer stand-in."""
    rng = random.Random(7)
    gen = torch.Generator().manual_seed(7)
    return {
        "module": module,
        "buffer_names": [],
        "optimizer": {"state": {i: {"step": iteration, "exp_avg": torch.zeros(n), "exp_avg_sq": torch.zeros(n)}
                                for i, n in enumerate(optimizer_params)},
                      "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.95), "params": list(range(len(optimizer_params)))}]},
        "lr_scheduler": None,
        "data_sampler": None,
        "random_ltd": None,
        "sparse_tensor_module_names": set(),
        "skipped_steps": 0,
        "global_steps": iteration,
        "global_samples": iteration * 8,
        "dp_world_size": 8,
        "mp_world_size": 1,
        "ds_config": {"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 2}, "fp16": {"enabled": True}},
        "ds_version": "0.14.4",
        "iteration": iteration,
        "client_lr_scheduler": {"start_lr": 1e-4, "warmup_iter": 100, "num_iters": 5000, "decay_style": "cosine",
                                "end_iter": 5000, "decay_ratio": 0.1},
        "random_rng_state": rng.getstate(),
        "np_rng_state": np.random.RandomState(7).get_state(),
        "torch_rng_state": gen.get_state(),
        "cuda_rng_state": torch.arange(16, dtype=torch.uint8),
        "rng_tracker_states": {"model-parallel-rng": torch.arange(16, dtype=torch.uint8)},
    }


def engine_extras(dtype):
    """The T5 conditioner and VAE every SAT engine dump carries beside the transformer (a few T5 keys, the
    whole VAE layout at small widths)."""
    sd = {"conditioner.embedders.0.transformer.shared.weight": torch.randn(32, 16).to(dtype),
          "conditioner.embedders.0.transformer.encoder.final_layer_norm.weight": torch.ones(16).to(dtype)}
    sd.update(sat_vae(prefix="first_stage_model.", loss=False, dtype=dtype))
    return sd


def wrap_lora(sd, layers, rank, width):
    """SAT's LoraMixin on every layer (lora2.py): base weights under .original., matrix_A [r, in] and matrix_B
    [out/p, r] per partition (3 for query_key_value, 1 for dense); B trained away from its zero init."""
    out = type(sd)()
    for key, t in sd.items():
        for linear, parts in (("attention.query_key_value.", 3), ("attention.dense.", 1)):
            if linear in key and key.rsplit(".", 1)[1] in ("weight", "bias"):
                base = key[:key.index(linear) + len(linear)]
                out[base + "original." + key.rsplit(".", 1)[1]] = t
                if key.endswith(".weight"):
                    for k in range(parts):
                        out[f"{base}matrix_A.{k}"] = (torch.randn(rank, width) * 0.1).to(t.dtype)
                        out[f"{base}matrix_B.{k}"] = (torch.randn(width, rank) * 0.1).to(t.dtype)
                break
        else:
            out[key] = t
    assert sum(".matrix_" in k for k in out) == 8 * layers, sum(".matrix_" in k for k in out)
    return out


def write_cogvideox(out, save, sat_transformer):
    torch.manual_seed(21)
    base = f"{out}/cogvideox_sat"
    width = 32  # two heads of 16: real key layout, small tensors
    kw = dict(time_dim=16, text_dim=16, head_dim=16)
    module = sat_transformer(width, 30, 16, "1.0", **kw)
    module.update(engine_extras(torch.float16))
    save(engine_state(module, 1000, [width * width, width]), f"{base}/1.0/engine_save_30l.pt")
    lora = wrap_lora(sat_transformer(width, 30, 16, "1.0", **kw), 30, rank=4, width=width)
    lora.update(engine_extras(torch.float16))
    save(engine_state(lora, 500, [4 * width] * 8), f"{base}/1.0/lora_30l_r4.pt")
    lora15 = wrap_lora(sat_transformer(width, 42, 16, "1.5", dtype=torch.bfloat16, **kw), 42, rank=8, width=width)
    lora15.update(engine_extras(torch.bfloat16))
    save(engine_state(lora15, 500, [8 * width] * 8), f"{base}/1.5/lora_42l_r8.pt")


def write_fairseq_training_save(path, save, args, model):
    """fairseq's Trainer.state_dict with --store-ema: the EMA model in extra_state.ema, Adam moments in
    last_optimizer_state, iterator and metric state (training-saves.md 5.3)."""
    params = [n for n, t in model.items() if t.is_floating_point()]
    save({"args": args, "model": model,
          "optimizer_history": [{"criterion_name": "MaskedLmLoss", "optimizer_name": "FairseqAdam",
                                 "lr_scheduler_state": {"best": 2.5}, "num_updates": 3000}],
          "extra_state": {"train_iterator": {"version": 2, "epoch": 2, "iterations_in_epoch": 5, "shuffle": True},
                          "metrics": {}, "previous_training_time": 120.5,
                          "ema": {k: t.clone() if k.endswith("version") or not t.is_floating_point() else t * 0.5
                                for k, t in model.items()}},
          "last_optimizer_state": {"state": {i: {"step": 3000, "exp_avg": torch.zeros_like(model[n]),
                                                 "exp_avg_sq": torch.zeros_like(model[n])} for i, n in enumerate(params[:3])},
                                   "param_groups": [{"lr": 5e-4, "params": list(range(3))}]},
          "criterion": None, "task_state": {}}, path)


@dataclasses.dataclass
class TrainingArguments:  # pickled under transformers' own name, as training_args.bin is
    output_dir: str
    learning_rate: float
    per_device_train_batch_size: int
    seed: int


TrainingArguments.__module__ = "transformers.training_args"
setattr(_module("transformers.training_args"), "TrainingArguments", TrainingArguments)


def write_hf_trainer_checkpoint(folder, weights, save):
    """HF Trainer's checkpoint-N/ without DeepSpeed (training-saves.md 5.5): the model's model.safetensors and
    config.json beside the optimizer, scheduler, AMP scaler and per-process RNG states, trainer_state.json and
    the pickled TrainingArguments. Only model.safetensors holds weights."""
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(weights, f"{folder}/model.safetensors")  # the same bytes: git stores them once
    with open(f"{folder}/config.json", "w") as f:
        json.dump({"architectures": ["XLMRobertaForMaskedLM"], "model_type": "xlm-roberta"}, f)
    sizes = [(64, 32), (32,), (32, 32)]
    save({"state": {i: {"step": torch.tensor(500.0), "exp_avg": torch.zeros(s), "exp_avg_sq": torch.zeros(s)}
                    for i, s in enumerate(sizes)},
          "param_groups": [{"lr": 5e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
                            "foreach": None, "maximize": False, "capturable": False, "differentiable": False,
                            "fused": None, "params": list(range(len(sizes)))}]}, f"{folder}/optimizer.pt")
    save({"base_lrs": [5e-5], "last_epoch": 500, "_step_count": 501, "verbose": False,
          "_get_lr_called_within_step": False, "_last_lr": [4.2e-5], "lr_lambdas": [None]}, f"{folder}/scheduler.pt")
    save({"scale": 32768.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
          "_growth_tracker": 17}, f"{folder}/scaler.pt")
    for rank in range(2):  # DISTRIBUTED mode: one file per process
        save({"python": random.Random(rank).getstate(), "numpy": np.random.RandomState(rank).get_state(),
              "cpu": torch.Generator().manual_seed(rank).get_state(), "cuda": [torch.arange(16, dtype=torch.uint8)]},
             f"{folder}/rng_state_{rank}.pth")
    save(TrainingArguments("out", 5e-5, 8, 42), f"{folder}/training_args.bin")
    with open(f"{folder}/trainer_state.json", "w") as f:
        json.dump({"global_step": 500, "epoch": 1.0, "log_history": [{"loss": 2.5, "step": 500}]}, f)


class AttributeDict(dict):  # Lightning pickles the class of a dict-like hparams as `hparams_type`
    pass


AttributeDict.__module__ = "lightning.fabric.utilities.data"
setattr(_module("lightning.fabric.utilities.data"), "AttributeDict", AttributeDict)


def lightning_client_state(model, version="2.1.3"):
    """The Lightning 2.x checkpoint dict (checkpoint_connector dump_checkpoint) around the weights: loop, callback,
    optimizer, scheduler and AMP-scaler state and the hyper-parameters; `model` names the optimizer's params."""
    params = [k for k, t in model.items() if t.is_floating_point()][:4]
    return {"epoch": 3, "global_step": 1500, "pytorch-lightning_version": version,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_loop.state_dict": {"_batches_that_stepped": 1500},
                                   "epoch_progress": {"total": {"ready": 4, "started": 4, "processed": 3,
                                                                "completed": 3}}}},
            "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0}": {
                "monitor": "val_loss", "best_model_score": torch.tensor(0.4321), "best_model_path": "ckpt/e2.ckpt",
                "current_score": torch.tensor(0.4321), "best_k_models": {"ckpt/e2.ckpt": torch.tensor(0.4321)},
                "kth_value": torch.tensor(0.4321), "last_model_path": ""},
                "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}": {"wait_count": 0, "stopped_epoch": 0,
                                                                       "best_score": torch.tensor(0.4321),
                                                                       "patience": 3}},
            "optimizer_states": [{"state": {i: {"step": torch.tensor(1500.0),
                                                "exp_avg": torch.zeros_like(model[k], dtype=torch.float32),
                                                "exp_avg_sq": torch.zeros_like(model[k], dtype=torch.float32)}
                                            for i, k in enumerate(params)},
                                  "param_groups": [{"lr": 2e-5, "betas": (0.9, 0.999), "eps": 1e-8,
                                                    "weight_decay": 0.01, "amsgrad": False,
                                                    "params": list(range(len(params)))}]}],
            "lr_schedulers": [{"base_lrs": [2e-5], "last_epoch": 1500, "_step_count": 1501, "_last_lr": [1.1e-5]}],
            "MixedPrecision": {"scale": 32768.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                               "_growth_tracker": 40},
            "hparams_name": "kwargs", "hparams_type": AttributeDict,
            "hyper_parameters": {"lr": 2e-5, "warmup_steps": 100}}


def write_lightning_checkpoint(path, model, save, attribute="model"):
    """A PyTorch Lightning 2.x .ckpt as Trainer.save_checkpoint writes it (training-saves.md 5.4): the
    LightningModule's state_dict (its submodule `attribute` as the key prefix) beside the training state."""
    state = lightning_client_state(model)
    state["state_dict"] = collections.OrderedDict((f"{attribute}.{k}", t) for k, t in model.items())
    save(state, path)
