"""T5 v1.1 text encoders as a SAT release ships them beside the transformer and VAE
(target-loaders.md D.2-D.4): the real key layout at reduced width, a real sentencepiece model
trained by python3-sentencepiece, and the tokenizer files of a CogVideoX diffusers repo."""
import collections
import json
import os

import torch

from families import spm

D_MODEL, HEADS, D_KV, D_FF, LAYERS, BUCKETS, VOCAB = 32, 4, 8, 64, 2, 32, 256
EXTRA_IDS = 100  # T5Tokenizer's <extra_id_N> sentinels, appended after the sentencepiece pieces


def spiece_model():
    """A unigram model with T5's special ids (pad 0, eos 1, unk 2, no bos)."""
    return spm.train(40, pad_id=0, eos_id=1, unk_id=2, bos_id=-1)


def hf_json(value):
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def tokenizer_files(pieces):
    """What T5Tokenizer.save_pretrained writes (with the CogVideoX script's model_max_length)."""
    extra = [f"<extra_id_{n}>" for n in range(EXTRA_IDS)]
    special = {"additional_special_tokens": extra, "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
    config = dict(special, clean_up_tokenization_spaces=True, extra_ids=EXTRA_IDS, legacy=True, model_max_length=226,
                  sp_model_kwargs={}, tokenizer_class="T5Tokenizer")
    added = {token: pieces + EXTRA_IDS - 1 - n for n, token in enumerate(extra)}
    return {"tokenizer_config.json": hf_json(config), "special_tokens_map.json": hf_json(special),
            "added_tokens.json": hf_json(added)}


def model_config(architecture, dtype):
    return {"architectures": [architecture], "d_ff": D_FF, "d_kv": D_KV, "d_model": D_MODEL,
            "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1,
            "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": True,
            "is_gated_act": True, "layer_norm_epsilon": 1e-06, "model_type": "t5", "num_decoder_layers": LAYERS,
            "num_heads": HEADS, "num_layers": LAYERS, "output_past": True, "pad_token_id": 0,
            "relative_attention_max_distance": 128, "relative_attention_num_buckets": BUCKETS,
            "tie_word_embeddings": False, "torch_dtype": dtype, "transformers_version": "4.44.2", "use_cache": True,
            "vocab_size": VOCAB}


def t5_state(full, dtype):
    """T5EncoderModel's state dict; `full` adds T5ForConditionalGeneration's decoder, tied embeddings and lm_head."""
    sd = collections.OrderedDict()

    def put(key, *shape):
        sd[key] = (torch.randn(*shape) * 0.05).to(dtype)

    inner = HEADS * D_KV
    put("shared.weight", VOCAB, D_MODEL)
    stacks = ("encoder", "decoder") if full else ("encoder",)
    for stack in stacks:
        if full:
            sd[f"{stack}.embed_tokens.weight"] = sd["shared.weight"]  # one tensor, as the tied modules save it
        for i in range(LAYERS):
            b = f"{stack}.block.{i}.layer."
            attentions = ("SelfAttention", "EncDecAttention") if stack == "decoder" else ("SelfAttention",)
            for n, attention in enumerate(attentions):
                for proj in "qkv":
                    put(f"{b}{n}.{attention}.{proj}.weight", inner, D_MODEL)
                put(f"{b}{n}.{attention}.o.weight", D_MODEL, inner)
                if i == 0 and attention == "SelfAttention":
                    put(f"{b}{n}.{attention}.relative_attention_bias.weight", BUCKETS, HEADS)
                put(f"{b}{n}.layer_norm.weight", D_MODEL)
            ff = len(attentions)
            put(f"{b}{ff}.DenseReluDense.wi_0.weight", D_FF, D_MODEL)
            put(f"{b}{ff}.DenseReluDense.wi_1.weight", D_FF, D_MODEL)
            put(f"{b}{ff}.DenseReluDense.wo.weight", D_MODEL, D_FF)
            put(f"{b}{ff}.layer_norm.weight", D_MODEL)
        put(f"{stack}.final_layer_norm.weight", D_MODEL)
    if full:
        put("lm_head.weight", VOCAB, D_MODEL)
    return sd


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)


def write_tokenizer(folder, spiece):
    write_file(f"{folder}/spiece.model", spiece)
    for name, text in tokenizer_files(len(spm.pieces(spiece))).items():
        write_file(f"{folder}/{name}", text)


def write_merged_folder(folder, spiece, safetensors_bytes):
    """The 1.0 layout (D.4): a diffusers repo's text_encoder/ and tokenizer/ merged, weights in two shards."""
    torch.manual_seed(11)
    sd = t5_state(full=False, dtype=torch.bfloat16)
    first = [k for k in sd if k == "shared.weight" or k.startswith("encoder.block.0.")]
    shards = [{k: sd[k] for k in first}, {k: v for k, v in sd.items() if k not in first}]
    weight_map = {}
    for n, shard in enumerate(shards, 1):
        name = f"model-0000{n}-of-00002.safetensors"
        write_file(f"{folder}/{name}", safetensors_bytes(shard, metadata={"format": "pt"}))
        weight_map.update({k: name for k in shard})
    total = sum(t.numel() * t.element_size() for t in sd.values())
    write_file(f"{folder}/model.safetensors.index.json",
               hf_json({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}))
    write_file(f"{folder}/config.json", hf_json(model_config("T5EncoderModel", "bfloat16")))
    write_tokenizer(folder, spiece)


def write_full_t5_folder(folder, spiece, save):
    """A plain google/t5-v1_1 download: the whole T5ForConditionalGeneration in pytorch_model.bin."""
    torch.manual_seed(12)
    save(t5_state(full=True, dtype=torch.float32), f"{folder}/pytorch_model.bin")
    write_file(f"{folder}/config.json", hf_json(model_config("T5ForConditionalGeneration", "float32")))
    write_tokenizer(folder, spiece)
