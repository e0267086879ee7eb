"""CLIP checkpoints (families.md C) with the full key layout at reduced width: a Hugging Face
CLIPModel in the legacy torch format with position_ids, a CLIPVisionModel as safetensors and one as
a zip-format pytorch_model.bin, and a DeepSeek-OCR-style checkpoint holding the fused-qkv DeepEncoder tower among its other parts."""
import collections
import os

import torch

from families import training_saves


def hf_encoder_layer(put, b, D, F):
    """One CLIPEncoderLayer in state_dict() order (CLIPAttention declares k, v, q, out)."""
    for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
        put(b + f"self_attn.{proj}.weight", D, D); put(b + f"self_attn.{proj}.bias", D)
    put(b + "layer_norm1.weight", D); put(b + "layer_norm1.bias", D)
    put(b + "mlp.fc1.weight", F, D); put(b + "mlp.fc1.bias", F)
    put(b + "mlp.fc2.weight", D, F); put(b + "mlp.fc2.bias", D)
    put(b + "layer_norm2.weight", D); put(b + "layer_norm2.bias", D)


def vision_tower_start(prefix, D, patch, image, dtype, position_ids=False):
    """What both vision layouts hold before their layers, in state_dict() order: the embeddings and
    pre_layrnorm. Returns the state dict and the `put` that adds a random tensor to it."""
    sd = collections.OrderedDict()
    n = (image // patch) ** 2 + 1

    def put(key, *shape):
        sd[prefix + key] = (torch.randn(*shape) * 0.02).to(dtype)

    put("embeddings.class_embedding", D)
    put("embeddings.patch_embedding.weight", D, 3, patch, patch)
    put("embeddings.position_embedding.weight", n, D)
    if position_ids:
        sd[prefix + "embeddings.position_ids"] = torch.arange(n).unsqueeze(0)
    put("pre_layrnorm.weight", D); put("pre_layrnorm.bias", D)
    return sd, put


def hf_vision(D=32, layers=3, F=64, patch=16, image=64, position_ids=False, prefix="vision_model.",
              dtype=torch.float32):
    sd, put = vision_tower_start(prefix, D, patch, image, dtype, position_ids)
    for i in range(layers):
        hf_encoder_layer(put, f"encoder.layers.{i}.", D, F)
    put("post_layernorm.weight", D); put("post_layernorm.bias", D)
    return sd


def hf_text(D=16, layers=2, F=32, vocab=64, positions=7, position_ids=False):
    sd = collections.OrderedDict()

    def put(key, *shape):
        sd["text_model." + key] = torch.randn(*shape) * 0.02

    put("embeddings.token_embedding.weight", vocab, D)
    put("embeddings.position_embedding.weight", positions, D)
    if position_ids:
        sd["text_model.embeddings.position_ids"] = torch.arange(positions).unsqueeze(0)
    for i in range(layers):
        hf_encoder_layer(put, f"encoder.layers.{i}.", D, F)
    put("final_layer_norm.weight", D); put("final_layer_norm.bias", D)
    return sd


def fused_vision(D=32, layers=2, F=64, patch=14, image=56, prefix="model.vision_model.", dtype=torch.bfloat16):
    """DeepEncoder's layout (families.md C.2): layer_norm1, qkv_proj [3D, D], out_proj, layer_norm2, mlp."""
    sd, put = vision_tower_start(prefix, D, patch, image, dtype)
    for i in range(layers):
        b = f"transformer.layers.{i}."
        put(b + "layer_norm1.weight", D); put(b + "layer_norm1.bias", D)
        put(b + "self_attn.qkv_proj.weight", 3 * D, D); put(b + "self_attn.qkv_proj.bias", 3 * D)
        put(b + "self_attn.out_proj.weight", D, D); put(b + "self_attn.out_proj.bias", D)
        put(b + "layer_norm2.weight", D); put(b + "layer_norm2.bias", D)
        put(b + "mlp.fc1.weight", F, D); put(b + "mlp.fc1.bias", F)
        put(b + "mlp.fc2.weight", D, F); put(b + "mlp.fc2.bias", D)
    return sd


def write(out, save, safetensors_bytes):
    torch.manual_seed(11)
    base = f"{out}/clip_vision"
    # CLIPModel as the 2021-22 pytorch_model.bin uploads were saved: legacy format, position_ids in both towers.
    full = hf_text(position_ids=True)
    full.update(hf_vision(position_ids=True))
    full["visual_projection.weight"] = torch.randn(8, 32) * 0.02
    full["text_projection.weight"] = torch.randn(8, 16) * 0.02
    full["logit_scale"] = torch.tensor(2.6592)
    assert len(full) == (2 + 16 * 2 + 2 + 1) + (3 + 2 + 16 * 3 + 2 + 1) + 3, len(full)
    save(full, f"{base}/clip_model_b16_legacy.bin", _use_new_zipfile_serialization=False)
    # CLIPVisionModel saved by transformers >= 4.31 as safetensors: no position_ids, fp16.
    vision = hf_vision(D=32, layers=4, patch=14, image=56, dtype=torch.float16)
    os.makedirs(base, exist_ok=True)
    with open(f"{base}/clip_vision_l14.safetensors", "wb") as f:
        f.write(safetensors_bytes(vision, {"format": "pt"}))
    # The same tower fine-tuned under PyTorch Lightning (LightningModule attribute `encoder`), whole .ckpt.
    training_saves.write_lightning_checkpoint(f"{base}/lightning_l14.ckpt", vision, save, attribute="encoder")
    # A DeepSeek-OCR-style checkpoint: the DeepEncoder tower beside the SAM encoder, projector and language model.
    ocr = fused_vision()
    for key, shape in (("model.sam_model.blocks.0.attn.qkv.weight", (96, 32)), ("model.projector.layers.weight", (16, 64)),
                       ("model.image_newline", (16,)), ("model.view_seperator", (16,)),
                       ("model.layers.0.self_attn.q_proj.weight", (16, 16)), ("lm_head.weight", (64, 16))):
        ocr[key] = torch.randn(*shape).to(torch.bfloat16)
    save(ocr, f"{base}/deepseek_ocr_tiny.pt")
    # CLIPVisionModel as transformers 4.6-4.30 saved pytorch_model.bin: torch's zip format, position_ids buffer.
    save(hf_vision(D=32, layers=2, patch=32, image=64, position_ids=True), f"{base}/clip_vision_b32_zip.bin")
