#!/usr/bin/env python3
"""Golden set for the Go Qwen2-VL encoder (package encoder/qwen2vl).

Everything here is produced by the reference stack itself (Hugging Face
transformers + PEFT + Pillow, versions pinned in requirements.txt next to this
file) from tiny, randomly initialised models, so the Go port can be checked
without downloading real weights:

  * a tiny byte-level BPE tokenizer (Qwen2 pre-tokenizer/decoder, the Qwen2-VL
    special tokens) trained with the `tokenizers` package on a built-in corpus;
  * two tiny Qwen2-VL checkpoints (tiny-a in the layout of the real
    Qwen/Qwen2-VL-*-Instruct repositories: flat config.json, legacy tensor
    names `model.layers.*` / `visual.*`; tiny-b exactly as
    `save_pretrained` of transformers 4.52.3 writes it: nested text_config,
    tensor names `model.language_model.*` / `model.visual.*`);
  * a LoRA and a DoRA adapter for tiny-a (PEFT, VLM2Vec's target modules, tensor
    names rewritten to the legacy layout that VLM2Vec's released adapters use);
  * deterministic PNG test images;
  * processor goldens (PIL-based Qwen2VLImageProcessor, use_fast=False) and the
    distance of the torchvision-based fast processor from it;
  * encoder goldens: token ids, masks, image grids, M-RoPE position ids, the
    final-norm hidden state at the pooled position and the L2-normalised
    embedding, for the VLM2Vec prompt format (bare <|image_pad|>, so 1-D
    positions) and the standard Qwen2-VL one (<|vision_start|>...: 3-D
    positions), left and right padding, base models, adapters (unmerged and
    merged) and one bf16 run.

Run from anywhere:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r requirements.txt
    /tmp/venv/bin/python make_goldens.py            # writes encoder/qwen2vl/testdata

The output is deterministic for a given environment (fixed seeds, CPU, eager
attention). The JSON schema is described in docs/qwen2vl-processor.md and in
the "schema" entry of the files themselves.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import PIL
import peft
import safetensors
import tokenizers
import torch
import transformers
from PIL import Image, ImageDraw
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save_file as torch_save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    Qwen2TokenizerFast,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLImageProcessorFast,
)
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "encoder", "qwen2vl", "testdata")

# Qwen2's pre-tokenizer split pattern (tokenizer.json of the Qwen2 / Qwen2-VL
# family). A fact about the format, needed so the tiny tokenizer behaves like
# the real one for the Go tokenizer.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# The added tokens of Qwen2-VL, in the order the real vocabulary has them
# (ids 151643.. there; appended after the tiny BPE vocabulary here).
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2-VL-*-Instruct's tokenizer_config.json pads on the left (batched
# generation needs it). VLM2Vec keeps the tokenizer default and its pooling
# handles either side, so both sides are recorded anyway.
DEFAULT_PADDING_SIDE = "left"

BPE_VOCAB = 1000  # trained BPE vocabulary (bytes + merges); specials come after
MODEL_VOCAB = 960  # embedding rows; > tokenizer size (959), like the real 151936

# Built-in corpus: instruction strings in the style of MMEB plus plain English,
# enough for ~750 merges.
CORPUS_LINES = [
    "Represent the given image with the following question: what is this?",
    "Represent the given image.",
    "Represent the given image for classification.",
    "Represent the given dialogue about an image, which is used for image retrieval.",
    "Represent the given news image with the following caption for domain classification.",
    "Represent the given Wikipedia image with related text information.",
    "Represent the given cropped image of the object.",
    "Find a caption for the news in the given photo.",
    "Find an image caption describing the given everyday image.",
    "Find me an everyday image that matches the given caption.",
    "Find a day-to-day image that looks similar to the provided image.",
    "Find a Wikipedia image that answers this question.",
    "Retrieve an image of this news caption.",
    "Identify the scene shown in the image.",
    "Identify the object shown in the image.",
    "Select the portion of the image that isolates the object labeled as a dog.",
    "Given an image, find a similar everyday image with the described changes.",
    "Answer a question based on the content of a video.",
    "Understand the content of the provided video.",
    "Find a video that contains the following visual content.",
    "A cat is sitting on a red mat next to the window, looking at the birds outside.",
    "Two dogs are running across a green field while a child throws a ball.",
    "The chart shows the number of visitors per month over the last three years.",
    "A man in a blue jacket rides a bicycle down a busy city street at night.",
    "The letter mentions a meeting date of January eighth, nineteen ninety three.",
    "What is the date mentioned in this letter? What color is the car? How many people are there?",
    "Where was this photo taken? Which animal is shown here? Is the light on or off?",
    "A small boat floats on a calm lake surrounded by tall mountains and pine trees.",
    "The kitchen has white cabinets, a wooden table and a bowl of fresh fruit.",
    "An old building with a large clock tower stands in the middle of the square.",
    "Children are playing football in the park on a sunny afternoon in the summer.",
    "The weather today is cloudy with a chance of rain in the evening and wind.",
    "Scientists have discovered a new species of frog living in the tropical forest.",
    "The company reported strong sales growth and higher profits this quarter.",
    "She opened the book, read the first page, and smiled at the familiar story.",
    "Please describe the picture in detail, including colors, shapes and objects.",
    "The train arrives at the station at seven o'clock and leaves ten minutes later.",
    "We're going to the market; they'll buy apples, bread, cheese and milk.",
    "It's a beautiful day: the sky is blue, the sun is bright and the air is warm!",
    "Numbers like 1, 2, 3, 42, 1999 and 2024 appear in tables, charts and documents.",
]


def build_corpus():
    # Repeat with light variation so merges have enough pair counts to be
    # deterministic and reach BPE_VOCAB.
    out = []
    for i in range(6):
        for line in CORPUS_LINES:
            out.append(line if i % 2 == 0 else line.lower())
    return out


def train_tokenizer():
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(build_corpus(), trainer=trainer)
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False) for t in SPECIAL_TOKENS]
    )
    assert tok.get_vocab_size(with_added_tokens=True) <= MODEL_VOCAB, tok.get_vocab_size(with_added_tokens=True)
    hf = Qwen2TokenizerFast(
        tokenizer_object=tok,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        errors="replace",
        model_max_length=32768,
        padding_side=DEFAULT_PADDING_SIDE,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        add_prefix_space=False,
    )
    return hf


# ---------------------------------------------------------------------------
# Model specs

MODEL_SPECS = {
    # Shaped like Qwen2-VL-2B (GQA, tied embeddings), scaled down.
    "tiny-a": dict(
        seed=1001,
        layout="legacy",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        mrope_section=[2, 3, 3],  # head_dim 16 -> 8 rotary frequencies
        tie_word_embeddings=True,
        vision=dict(depth=2, embed_dim=32, num_heads=2, mlp_ratio=2),
        # Real-style minimal preprocessor_config.json (like Qwen2-VL-*-Instruct):
        # only min/max pixels, everything else at the transformers defaults.
        preprocessor=dict(style="minimal", min_pixels=56 * 56, max_pixels=28 * 28 * 10),
    ),
    # Different width, head count and GQA ratio (6 query heads per KV head),
    # untied LM head, three layers, wider vision tower.
    "tiny-b": dict(
        seed=2002,
        layout="hf452",
        hidden_size=96,
        intermediate_size=80,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=1,
        mrope_section=[4, 2, 2],
        tie_word_embeddings=False,
        vision=dict(depth=2, embed_dim=48, num_heads=3, mlp_ratio=2),
        # Full preprocessor_config.json as save_pretrained writes it (size dict
        # and min/max pixels).
        preprocessor=dict(style="full", min_pixels=28 * 28 * 8, max_pixels=28 * 28 * 16),
    ),
}

WEIGHT_STD = 0.08
EMBED_STD = 0.5


def model_config_dict(spec, tok):
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    v = spec["vision"]
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "vision_token_id": ids["<|vision_pad|>"],
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "hidden_act": "silu",
        "hidden_size": spec["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": spec["intermediate_size"],
        "max_position_embeddings": 32768,
        "max_window_layers": spec["num_hidden_layers"],
        "model_type": "qwen2_vl",
        "num_attention_heads": spec["num_attention_heads"],
        "num_hidden_layers": spec["num_hidden_layers"],
        "num_key_value_heads": spec["num_key_value_heads"],
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "sliding_window": 32768,
        "tie_word_embeddings": spec["tie_word_embeddings"],
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "use_sliding_window": False,
        "vision_config": {
            "depth": v["depth"],
            "embed_dim": v["embed_dim"],
            "mlp_ratio": v["mlp_ratio"],
            "num_heads": v["num_heads"],
            "in_chans": 3,
            "hidden_size": spec["hidden_size"],
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        "rope_scaling": {"type": "mrope", "mrope_section": list(spec["mrope_section"])},
        "vocab_size": MODEL_VOCAB,
    }


def init_weights(model, seed):
    """Re-initialise every parameter with a fixed seed and a larger std than
    transformers' default (0.02), so that activations, norms and attention
    patterns are far from degenerate and numeric bugs show up."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            is_norm = ("norm" in name or "ln_q" in name) and p.ndim == 1
            if is_norm and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("bias"):
                p.copy_(0.05 * r)
            elif "embed_tokens" in name:
                p.copy_(EMBED_STD * r)
            else:
                p.copy_(WEIGHT_STD * r)


def to_legacy_name(name):
    # transformers >= 4.52 nests the decoder under model.language_model and the
    # vision tower under model.visual; released Qwen2-VL checkpoints (and
    # VLM2Vec's vendored model) use model.* and visual.*.
    if name.startswith("model.language_model."):
        return "model." + name[len("model.language_model.") :]
    if name.startswith("model.visual."):
        return "visual." + name[len("model.visual.") :]
    return name


def write_preprocessor_config(path, pp):
    if pp["style"] == "minimal":
        cfg = {
            "min_pixels": pp["min_pixels"],
            "max_pixels": pp["max_pixels"],
            "patch_size": 14,
            "temporal_patch_size": 2,
            "merge_size": 2,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "image_processor_type": "Qwen2VLImageProcessor",
            "processor_class": "Qwen2VLProcessor",
        }
        with open(os.path.join(path, "preprocessor_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
    else:
        ip = Qwen2VLImageProcessor(min_pixels=pp["min_pixels"], max_pixels=pp["max_pixels"])
        ip.save_pretrained(path)


def make_checkpoint(name, spec, tok, out_dir):
    path = os.path.join(out_dir, name)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    cfg_dict = model_config_dict(spec, tok)
    config = Qwen2VLConfig.from_dict(cfg_dict)
    config._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = Qwen2VLForConditionalGeneration(config).eval()
    init_weights(model, spec["seed"])
    if spec["tie_word_embeddings"]:
        model.tie_weights()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        if spec["layout"] == "legacy":
            tensors = torch_load_file(os.path.join(tmp, "model.safetensors"))
            legacy = {to_legacy_name(k): v.contiguous() for k, v in tensors.items()}
            torch_save_file(legacy, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
            with open(os.path.join(path, "config.json"), "w") as f:
                json.dump(cfg_dict, f, indent=2, sort_keys=True)
                f.write("\n")
            shutil.copy(os.path.join(tmp, "generation_config.json"), path)
        else:
            for fn in os.listdir(tmp):
                shutil.copy(os.path.join(tmp, fn), path)
    tok.save_pretrained(path)
    write_preprocessor_config(path, spec["preprocessor"])
    # Keep the directory to what a real checkpoint has; the Go side reads
    # tokenizer.json, tokenizer_config.json, config.json, preprocessor_config.json.
    reloaded = load_model(path, torch.float32)
    for (n1, p1), (n2, p2) in zip(sorted(model.state_dict().items()), sorted(reloaded.state_dict().items())):
        assert n1 == n2 and torch.equal(p1, p2), (n1, n2)
    return path


def load_model(path, dtype):
    m = Qwen2VLForConditionalGeneration.from_pretrained(path, torch_dtype=dtype, attn_implementation="eager")
    return m.eval()


# ---------------------------------------------------------------------------
# Adapters

VLM2VEC_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj", "gate_proj", "up_proj"]


def make_adapter(base_path, out_path, use_dora, seed, legacy):
    base = load_model(base_path, torch.float32)
    cfg = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.1,  # VLM2Vec's value; inactive in eval mode
        init_lora_weights="gaussian",
        use_dora=use_dora,
        target_modules=VLM2VEC_TARGETS,
        bias="none",
    )
    pm = get_peft_model(base, cfg).eval()
    # PEFT's gaussian init leaves lora_B = 0 (adapter is a no-op); perturb B
    # (and the DoRA magnitude) so the adapter really changes the outputs.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(pm.named_parameters(), key=lambda kv: kv[0]):
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif "lora_magnitude_vector" in name:
                p.mul_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
    if os.path.isdir(out_path):
        shutil.rmtree(out_path)
    with tempfile.TemporaryDirectory() as tmp:
        pm.save_pretrained(tmp, safe_serialization=True)
        tensors = torch_load_file(os.path.join(tmp, "adapter_model.safetensors"))
        if legacy:
            # VLM2Vec's adapters were saved from the legacy module tree:
            # base_model.model.model.layers.N...
            tensors = {k.replace("base_model.model.model.language_model.", "base_model.model.model."): v for k, v in tensors.items()}
        os.makedirs(out_path)
        torch_save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out_path, "adapter_model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(tmp, "adapter_config.json")) as f:
            acfg = json.load(f)
        acfg["base_model_name_or_path"] = os.path.basename(base_path)
        acfg["target_modules"] = sorted(acfg["target_modules"])  # PEFT writes a set: fix the order
        with open(os.path.join(out_path, "adapter_config.json"), "w") as f:
            json.dump(acfg, f, indent=2, sort_keys=True)
            f.write("\n")
    # Reload from disk (what the Go side does) and check PEFT mapped every
    # tensor, legacy names included.
    reloaded = load_adapter_model(base_path, out_path, torch.float32)
    want = {k: v for k, v in pm.state_dict().items() if "lora_" in k}
    got = {k: v for k, v in reloaded.state_dict().items() if "lora_" in k}
    assert set(want) == set(got), (sorted(set(want) ^ set(got)))[:5]
    for k in want:
        assert torch.equal(want[k], got[k]), k
    return out_path


def load_adapter_model(base_path, adapter_path, dtype):
    base = load_model(base_path, dtype)
    return PeftModel.from_pretrained(base, adapter_path, is_trainable=False).eval()


# ---------------------------------------------------------------------------
# Images


def make_images(img_dir):
    """Deterministic test images (numpy's legacy RandomState is stable across
    versions). Returns {name: filename}."""
    os.makedirs(img_dir, exist_ok=True)
    rs = np.random.RandomState(1234)
    out = {}

    def save(name, arr, mode="RGB"):
        fn = name + ".png"
        Image.fromarray(arr, mode).save(os.path.join(img_dir, fn), optimize=True)
        out[name] = fn

    def photo(w, h, noise):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        r = 128 + 100 * np.sin(x / max(w, 1) * 3.1 + y / max(h, 1) * 1.3)
        gch = 40 + 180 * (y / max(h - 1, 1))
        b = 128 + 90 * np.cos(np.hypot(x - 0.6 * w, y - 0.4 * h) / 7.0)
        arr = np.stack([r, gch, b], -1)
        if noise:
            arr += rs.randint(-noise, noise + 1, size=arr.shape)
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        im = Image.fromarray(arr, "RGB")
        d = ImageDraw.Draw(im)
        d.ellipse([w * 0.1, h * 0.2, w * 0.45, h * 0.75], fill=(250, 240, 30))
        d.rectangle([w * 0.6, h * 0.55, w * 0.9, h * 0.9], fill=(10, 20, 200))
        d.line([0, h - 1, w - 1, 0], fill=(255, 255, 255), width=2)
        return np.asarray(im).copy()

    save("photo_120x90", photo(120, 90, 12))
    save("wide_300x40", photo(300, 40, 6))
    save("tall_40x260", photo(40, 260, 6))
    save("tiny_10x7", rs.randint(0, 256, size=(7, 10, 3)).astype(np.uint8))
    rgba = np.concatenate([photo(64, 48, 10), rs.randint(0, 256, size=(48, 64, 1)).astype(np.uint8)], -1)
    rgba[:8, :8, 3] = 0  # fully transparent corner: convert("RGB") keeps its colours
    save("alpha_64x48", rgba, "RGBA")
    # Sharp stripes stress the resampler's negative lobes and clamping.
    big = photo(500, 333, 0)
    big[::7, :, :] = 255
    big[:, ::5, 1] = 0
    save("big_500x333", big)
    save("up_30x29", photo(30, 29, 20))
    save("exact_84x56", photo(84, 56, 8))
    save("hpass_100x56", photo(100, 56, 8))
    save("vpass_84x45", photo(84, 45, 8))
    return out


def open_rgb(img_dir, fn):
    # PIL convert("RGB") drops alpha (no compositing); transformers 4.52's
    # convert_to_rgb does the same, and VLM2Vec's train collator calls it.
    with Image.open(os.path.join(img_dir, fn)) as im:
        return im.convert("RGB")


def vlm2vec_tiny_resize(im):
    # VLM2Vec V2 Qwen2_VL_process_fn: "resize to 56x56 if either w or h is
    # smaller than 28", PIL Image.resize default filter (BICUBIC for RGB).
    if im.size[0] < 28 or im.size[1] < 28:
        return im.resize((56, 56)), True
    return im, False


# ---------------------------------------------------------------------------
# Processor goldens

PROCESSOR_CONFIGS = {
    # name -> (preprocessor kwargs); tiny-a / tiny-b are the checkpoints' own.
    "tiny-a": dict(min_pixels=56 * 56, max_pixels=28 * 28 * 10),
    "tiny-b": dict(min_pixels=28 * 28 * 8, max_pixels=28 * 28 * 16),
    # VLM2Vec V2 defaults (resize_min_pixels / resize_max_pixels).
    "vlm2vec-v2": dict(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 1280),
    # VLM2Vec V1 Qwen2-VL setting (used after a 1344x1344 pre-resize).
    "vlm2vec-v1": dict(min_pixels=256 * 28 * 28, max_pixels=1280 * 28 * 28),
}

# (config, image, pre_resize) ; pre_resize: None | "vlm2vec_tiny" | [w, h]
PROCESSOR_CASES = [
    ("tiny-a", "photo_120x90", None),
    ("tiny-a", "wide_300x40", None),
    ("tiny-a", "tiny_10x7", "vlm2vec_tiny"),
    ("tiny-a", "alpha_64x48", None),
    ("tiny-a", "tall_40x260", None),
    ("tiny-a", "up_30x29", None),
    ("tiny-a", "exact_84x56", None),
    ("tiny-a", "hpass_100x56", None),
    ("tiny-a", "vpass_84x45", None),
    ("tiny-a", "big_500x333", None),
    ("tiny-b", "photo_120x90", None),
    ("tiny-b", "wide_300x40", None),
    ("tiny-b", "tiny_10x7", "vlm2vec_tiny"),
    ("tiny-b", "alpha_64x48", None),
    ("tiny-b", "big_500x333", None),
    ("vlm2vec-v2", "photo_120x90", None),
    ("vlm2vec-v2", "big_500x333", None),
    ("vlm2vec-v2", "tiny_10x7", "vlm2vec_tiny"),
    ("vlm2vec-v2", "wide_300x40", None),
    ("vlm2vec-v1", "photo_120x90", [1344, 1344]),
]

# Cases whose full pixel_values are stored (the images the encoder goldens
# use); for the others the exact resized uint8 image and SHA-256 digests are
# stored, which pin pixel_values bit for bit at a fraction of the size.
FULL_PIXELS = {
    ("tiny-a", "photo_120x90"),
    ("tiny-a", "wide_300x40"),
    ("tiny-a", "tiny_10x7"),
    ("tiny-a", "alpha_64x48"),
    ("tiny-b", "photo_120x90"),
    ("tiny-b", "wide_300x40"),
    ("tiny-b", "tiny_10x7"),
    ("tiny-b", "alpha_64x48"),
}
MAX_U8_PIXELS = 200 * 200  # store the resized uint8 image up to this size


def sha256(arr):
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def prepare_image(img_dir, images, name, pre_resize):
    im = open_rgb(img_dir, images[name])
    if pre_resize == "vlm2vec_tiny":
        im, _ = vlm2vec_tiny_resize(im)
    elif pre_resize is not None:
        im = im.resize(tuple(pre_resize))  # PIL default: BICUBIC
    return im


def manual_pixel_values(u8, ip):
    """Rescale, normalise and patchify a resized uint8 HWC image exactly as the
    slow processor does, to confirm the pipeline description the Go code
    follows (float64 rescale then float32 cast, float32 normalise)."""
    x = (u8.astype(np.float64) * ip.rescale_factor).astype(np.float32)
    mean = np.array(ip.image_mean, dtype=np.float32)
    std = np.array(ip.image_std, dtype=np.float32)
    x = (x - mean) / std
    x = x.transpose(2, 0, 1)[None]  # 1,C,H,W
    t = ip.temporal_patch_size
    x = np.concatenate([x] * t, 0)
    p, m = ip.patch_size, ip.merge_size
    c, h, w = x.shape[1:]
    gh, gw = h // p, w // p
    x = x.reshape(1, t, c, gh // m, m, p, gw // m, m, p).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gh * gw, c * t * p * p)


def run_processor_goldens(out_dir, img_dir, images):
    tensors = {}
    cases = []
    worst_fast = 0.0
    cfg_dir = os.path.join(out_dir, "processor_configs")
    os.makedirs(cfg_dir, exist_ok=True)
    cfg_files = {}
    for cname, kw in PROCESSOR_CONFIGS.items():
        if cname in MODEL_SPECS:
            cfg_files[cname] = os.path.join(cname, "preprocessor_config.json")
        else:
            Qwen2VLImageProcessor(**kw).save_pretrained(os.path.join(cfg_dir, cname))
            os.replace(os.path.join(cfg_dir, cname, "preprocessor_config.json"), os.path.join(cfg_dir, cname + ".json"))
            os.rmdir(os.path.join(cfg_dir, cname))
            cfg_files[cname] = os.path.join("processor_configs", cname + ".json")
    for cname, iname, pre in PROCESSOR_CASES:
        # Load through from_pretrained, as a user would, so the config-file
        # semantics (min_pixels/max_pixels vs size) are those of the reference.
        ip = Qwen2VLImageProcessor.from_pretrained(os.path.dirname(os.path.join(out_dir, cfg_files[cname])), **({} if cname in MODEL_SPECS else {"image_processor_filename": os.path.basename(cfg_files[cname])}))
        assert (ip.min_pixels, ip.max_pixels) == (PROCESSOR_CONFIGS[cname]["min_pixels"], PROCESSOR_CONFIGS[cname]["max_pixels"]), cname
        fast = Qwen2VLImageProcessorFast(min_pixels=ip.min_pixels, max_pixels=ip.max_pixels)
        im = prepare_image(img_dir, images, iname, pre)
        res = ip(images=[im], return_tensors="np")
        pv, thw = res["pixel_values"].astype(np.float32), res["image_grid_thw"][0].tolist()
        rh, rw = smart_resize(im.size[1], im.size[0], factor=ip.patch_size * ip.merge_size, min_pixels=ip.min_pixels, max_pixels=ip.max_pixels)
        u8 = np.asarray(im.resize((rw, rh), resample=Image.BICUBIC))
        manual = manual_pixel_values(u8, ip)
        assert manual.shape == pv.shape and np.array_equal(manual, pv), f"pipeline mismatch {cname} {iname}"
        fpv = fast(images=[im], return_tensors="pt")["pixel_values"].numpy().astype(np.float32)
        fast_diff = float(np.abs(fpv - pv).max()) if fpv.shape == pv.shape else None
        # In uint8 units: one level is 1/255/std ~ 0.0146 .. 0.0150 after normalisation.
        fast_diff_levels = None
        if fast_diff is not None:
            worst_fast = max(worst_fast, fast_diff)
            # Columns are ordered (channel, temporal, py, px): one uint8 level
            # is 1/(255*std[channel]) after normalisation.
            std_cols = np.repeat(np.array(ip.image_std, dtype=np.float64), pv.shape[1] // 3)
            fast_diff_levels = float((np.abs(fpv.astype(np.float64) - pv) * std_cols * 255.0).max())
        cid = f"{cname}:{iname}" + ("" if pre is None else (":tiny56" if pre == "vlm2vec_tiny" else f":pre{pre[0]}x{pre[1]}"))
        entry = {
            "id": cid,
            "config": cfg_files[cname],
            "image": "images/" + images[iname],
            "pre_resize": pre,
            "input_size_wh": list(open_rgb(img_dir, images[iname]).size),
            "processor_input_size_wh": list(im.size),
            "resized_hw": [rh, rw],
            "image_grid_thw": thw,
            "num_patches": int(pv.shape[0]),
            "num_image_tokens": int(np.prod(thw) // (ip.merge_size**2)),
            "pixel_values_shape": list(pv.shape),
            "pixel_values_sha256": sha256(pv.astype("<f4")),
            "resized_u8_sha256": sha256(u8),
            "fast_processor_max_abs_diff": fast_diff,
            "fast_processor_max_abs_diff_uint8_levels": fast_diff_levels,
        }
        if (cname, iname) in FULL_PIXELS:
            entry["pixel_values_key"] = cid + "/pixel_values"
            tensors[cid + "/pixel_values"] = pv
        if rh * rw <= MAX_U8_PIXELS:
            entry["resized_u8_key"] = cid + "/resized_u8"
            tensors[cid + "/resized_u8"] = u8
        if pre is not None:
            pre_u8 = np.asarray(im)
            entry["pre_resized_u8_sha256"] = sha256(pre_u8)
            if pre_u8.shape[0] * pre_u8.shape[1] <= MAX_U8_PIXELS:
                entry["pre_resized_u8_key"] = cid + "/pre_resized_u8"
                tensors[cid + "/pre_resized_u8"] = pre_u8
        cases.append(entry)
    return cases, tensors, worst_fast


def run_resample_goldens():
    """PIL resize of small random images with every separable filter, up,
    down and mixed, for the resampler unit test."""
    rs = np.random.RandomState(99)
    specs = [
        ((37, 23), (19, 61)),
        ((40, 30), (28, 28)),
        ((200, 150), (28, 56)),
        ((13, 9), (56, 56)),
        ((5, 3), (1, 1)),
        ((64, 48), (64, 20)),
        ((64, 48), (17, 48)),
        ((1, 1), (3, 2)),
        ((97, 3), (33, 7)),
    ]
    filters = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}
    cases, tensors = [], {}
    for i, ((w, h), (ow, oh)) in enumerate(specs):
        src = rs.randint(0, 256, size=(h, w, 3)).astype(np.uint8)
        # Some saturated pixels so the clamping paths run.
        src[0, :, 0] = 255
        src[-1, :, 1] = 0
        key = f"resample{i}"
        tensors[key + "/src"] = src
        entry = {"id": key, "src_key": key + "/src", "src_wh": [w, h], "dst_wh": [ow, oh], "outputs": {}}
        for fname, f in filters.items():
            dst = np.asarray(Image.fromarray(src, "RGB").resize((ow, oh), resample=f))
            tensors[f"{key}/{fname}"] = dst
            entry["outputs"][fname] = f"{key}/{fname}"
        cases.append(entry)
    return cases, tensors


def run_smart_resize_goldens():
    out = []
    dims = [
        (28, 28), (27, 300), (42, 42), (70, 70), (98, 14 * 9), (90, 120), (40, 300), (333, 500),
        (1344, 1344), (56, 56), (29, 30), (45, 84), (28, 5601), (28, 5600), (30, 6001), (1000, 3),
        (2000, 1500), (4000, 3000), (10, 7), (7000, 40), (31, 31), (14 * 25 + 7, 14 * 3),
    ]
    limits = [(56 * 56, 28 * 28 * 1280), (28 * 28 * 4, 28 * 28 * 10), (256 * 28 * 28, 1280 * 28 * 28), (28 * 28 * 8, 28 * 28 * 16)]
    for h, w in dims:
        for lo, hi in limits:
            e = {"height": h, "width": w, "factor": 28, "min_pixels": lo, "max_pixels": hi}
            try:
                rh, rw = smart_resize(h, w, factor=28, min_pixels=lo, max_pixels=hi)
                e["resized_hw"] = [rh, rw]
            except ValueError as ex:
                e["error"] = str(ex)
            out.append(e)
    return out


# ---------------------------------------------------------------------------
# Encoder goldens

VLM2VEC_Q = "<|image_pad|> Represent the given image with the following question: what is this?"
VLM2VEC_V1_TGT = "<|image_pad|>\nRepresent the given image.\n"
TEXT_Q = "Represent the given dialogue about an image, which is used for image retrieval: a cat sits on a red mat"
TEXT_SHORT = "a red car"
WIDE_Q = "<|image_pad|> Find a caption for the news in the given photo."
STD_Q = "<|vision_start|><|image_pad|><|vision_end|>Represent the given image with the following question: what is this?"
STD_WIDE = "<|vision_start|><|image_pad|><|vision_end|>Find a caption for the news in the given photo."
STD_TWO = "<|vision_start|><|image_pad|><|vision_end|> and <|vision_start|><|image_pad|><|vision_end|> are they similar?"
STD_TINY = "Picture: <|vision_start|><|image_pad|><|vision_end|>\nRepresent the given image.\n"


def R(text, *imgs):
    return {"text": text, "images": list(imgs)}


# name -> (position scheme, padding side, rows)
BASE_CASES = [
    ("text_only", "vlm2vec_1d", None, [R(TEXT_Q)]),
    ("image_only_v1", "vlm2vec_1d", None, [R(VLM2VEC_V1_TGT, "photo_120x90")]),
    ("image_text_v2", "vlm2vec_1d", None, [R(VLM2VEC_Q, "photo_120x90")]),
    ("tiny_image", "vlm2vec_1d", None, [R(VLM2VEC_V1_TGT, "tiny_10x7")]),
    ("wide_image", "vlm2vec_1d", None, [R(WIDE_Q, "wide_300x40")]),
    ("alpha_image", "vlm2vec_1d", None, [R(VLM2VEC_V1_TGT, "alpha_64x48")]),
    (
        "batch_mixed_left",
        "vlm2vec_1d",
        "left",
        [R(TEXT_SHORT), R(VLM2VEC_Q, "photo_120x90"), R(VLM2VEC_V1_TGT, "wide_300x40"), R(TEXT_Q)],
    ),
    (
        "batch_mixed_right",
        "vlm2vec_1d",
        "right",
        [R(TEXT_SHORT), R(VLM2VEC_Q, "photo_120x90"), R(VLM2VEC_V1_TGT, "wide_300x40"), R(TEXT_Q)],
    ),
    ("mrope_image_text", "qwen2vl_mrope", None, [R(STD_Q, "photo_120x90")]),
    ("mrope_wide", "qwen2vl_mrope", None, [R(STD_WIDE, "wide_300x40")]),
    (
        "mrope_batch_left",
        "qwen2vl_mrope",
        "left",
        [R(TEXT_SHORT), R(STD_Q, "photo_120x90"), R(STD_TWO, "wide_300x40", "tiny_10x7"), R(STD_TINY, "alpha_64x48")],
    ),
    (
        "mrope_batch_right",
        "qwen2vl_mrope",
        "right",
        [R(TEXT_SHORT), R(STD_Q, "photo_120x90"), R(STD_TWO, "wide_300x40", "tiny_10x7"), R(STD_TINY, "alpha_64x48")],
    ),
]
ADAPTER_CASES = ["image_text_v2", "batch_mixed_left", "mrope_batch_right", "text_only"]
BF16_CASES = ["batch_mixed_left"]
FULL_HIDDEN_CASES = {"text_only", "image_only_v1", "image_text_v2", "wide_image", "mrope_image_text"}


def vlm2vec_pool_index(mask):
    # VLM2Vec _pooling: if every row ends in a real token (left padding, or no
    # padding) take the last position, else sum(mask)-1 per row.
    B, L = mask.shape
    if bool((mask[:, -1] == 1).all()):
        return [L - 1] * B
    return (mask.sum(1) - 1).tolist()


def build_batch(tok, ip, rows, padding_side, img_dir, images):
    """Process each row on its own (as VLM2Vec's Qwen2_VL_process_fn does) and
    pad with the tokenizer. Returns tensors and per-image processor ids."""
    ids, pvs, thws, img_ids = [], [], [], []
    for row in rows:
        text = row["text"]
        if row["images"]:
            ims = []
            for name in row["images"]:
                im = open_rgb(img_dir, images[name])
                im, tiny = vlm2vec_tiny_resize(im)
                ims.append(im)
                img_ids.append(name + (":tiny56" if tiny else ""))
            # Expand each <|image_pad|> to t*h*w/merge^2 copies, like
            # Qwen2VLProcessor.__call__.
            res = ip(images=ims, return_tensors="np")
            grid = res["image_grid_thw"]
            merge = ip.merge_size**2
            parts = text.split("<|image_pad|>")
            assert len(parts) - 1 == len(ims), text
            expanded = parts[0]
            for k in range(len(ims)):
                expanded += "<|image_pad|>" * int(np.prod(grid[k]) // merge) + parts[k + 1]
            enc = tok(expanded, add_special_tokens=True)["input_ids"]
            pvs.append(torch.from_numpy(res["pixel_values"]).float())
            thws.append(torch.from_numpy(grid).long())
        else:
            enc = tok(text, add_special_tokens=True)["input_ids"]
        ids.append(enc)
    tok.padding_side = padding_side or DEFAULT_PADDING_SIDE
    padded = tok.pad({"input_ids": ids}, return_tensors="pt")
    tok.padding_side = DEFAULT_PADDING_SIDE
    batch = {"input_ids": padded["input_ids"].long(), "attention_mask": padded["attention_mask"].long()}
    if pvs:
        batch["pixel_values"] = torch.cat(pvs, 0)
        batch["image_grid_thw"] = torch.cat(thws, 0)
    return batch, img_ids


def processor_via_hf(proc_tok, ip, rows, img_dir, images):
    """Cross-check the manual expansion against Qwen2VLProcessor itself."""
    from transformers import Qwen2VLProcessor, Qwen2VLVideoProcessor

    proc = Qwen2VLProcessor(image_processor=ip, tokenizer=proc_tok, video_processor=Qwen2VLVideoProcessor())
    out = []
    for row in rows:
        ims = [vlm2vec_tiny_resize(open_rgb(img_dir, images[n]))[0] for n in row["images"]] or None
        r = proc(text=[row["text"]], images=ims, return_tensors="np")
        out.append(r["input_ids"][0].tolist())
    return out


@torch.no_grad()
def forward(model, batch):
    kwargs = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True, use_cache=False, return_dict=True)
    if "pixel_values" in batch:
        kwargs["pixel_values"] = batch["pixel_values"].to(model.dtype)
        kwargs["image_grid_thw"] = batch["image_grid_thw"]
    out = model(**kwargs)
    hs = out.hidden_states[-1].float()  # output of the final RMSNorm
    idx = vlm2vec_pool_index(batch["attention_mask"])
    pooled = torch.stack([hs[i, j] for i, j in enumerate(idx)])
    emb = torch.nn.functional.normalize(pooled, p=2, dim=-1)
    return hs, idx, pooled, emb


def inner_model(m):
    # PeftModel wraps the Qwen2VLForConditionalGeneration it adapts.
    if isinstance(m, PeftModel):
        m = m.get_base_model()
    assert isinstance(m, Qwen2VLForConditionalGeneration), type(m)
    return m


def flist(t):
    return [[float(x) for x in row] for row in t.tolist()]


def run_encoder_goldens(out_dir, img_dir, images, tok, paths):
    cases, tensors = [], {}
    ips = {name: Qwen2VLImageProcessor.from_pretrained(paths[name]) for name in MODEL_SPECS}
    variants = [
        ("tiny-a", None, torch.float32, BASE_CASES),
        ("tiny-b", None, torch.float32, BASE_CASES),
        ("tiny-a", "tiny-a-lora", torch.float32, [c for c in BASE_CASES if c[0] in ADAPTER_CASES]),
        ("tiny-a", "tiny-a-dora", torch.float32, [c for c in BASE_CASES if c[0] in ADAPTER_CASES]),
        ("tiny-a", None, torch.bfloat16, [c for c in BASE_CASES if c[0] in BF16_CASES]),
        ("tiny-a", "tiny-a-dora", torch.bfloat16, [c for c in BASE_CASES if c[0] in BF16_CASES]),
    ]
    f32_ref = {}
    image_embeds_done = set()
    for model_name, adapter, dtype, case_list in variants:
        ip = ips[model_name]
        if adapter:
            model = load_adapter_model(paths[model_name], paths[adapter], dtype)
        else:
            model = load_model(paths[model_name], dtype)
        merged = None
        if adapter:
            merged = load_adapter_model(paths[model_name], paths[adapter], dtype).merge_and_unload().eval()
        core = inner_model(model)
        dt = "float32" if dtype == torch.float32 else "bfloat16"
        for cname, scheme, pad, rows in case_list:
            batch, img_ids = build_batch(tok, ip, rows, pad, img_dir, images)
            # Token ids must match Qwen2VLProcessor's own expansion.
            hf_ids = processor_via_hf(tok, ip, rows, img_dir, images)
            for b, row_ids in enumerate(hf_ids):
                m = batch["attention_mask"][b].bool()
                assert batch["input_ids"][b][m].tolist() == row_ids, cname
            pos, deltas = core.model.get_rope_index(batch["input_ids"], batch.get("image_grid_thw"), None, batch["attention_mask"])
            hs, idx, pooled, emb = forward(model, batch)
            cid = f"{model_name}{'+' + adapter.split('-')[-1] if adapter else ''}/{cname}" + ("" if dtype == torch.float32 else "/bf16")
            entry = {
                "id": cid,
                "model": model_name,
                "adapter": adapter,
                "merged": False,
                "dtype": dt,
                "position_scheme": scheme,
                "padding_side": pad or DEFAULT_PADDING_SIDE,
                "rows": rows,
                "image_processor_cases": [f"{model_name}:{i}" for i in img_ids],
                "input_ids": batch["input_ids"].tolist(),
                "attention_mask": batch["attention_mask"].tolist(),
                "image_grid_thw": batch["image_grid_thw"].tolist() if "image_grid_thw" in batch else [],
                "position_ids": pos.tolist(),
                "rope_deltas": deltas.reshape(-1).tolist(),
                "pooled_index": idx,
                "pooled_hidden": flist(pooled),
                "embedding": flist(emb),
            }
            if merged is not None:
                _, _, mp, me = forward(merged, batch)
                entry["embedding_merged"] = flist(me)
                entry["merged_vs_unmerged_max_abs_diff"] = float((me - emb).abs().max())
            if dtype == torch.bfloat16:
                ref = f32_ref[(model_name, adapter, cname)]
                cos = torch.nn.functional.cosine_similarity(emb, ref, dim=-1)
                entry["cosine_vs_float32"] = [float(c) for c in cos]
                entry["note"] = "bf16 weights and activations (RMSNorm upcasts internally); DoRA merged in bf16 after PeftModel.from_pretrained as VLM2Vec does; compare by cosine >= 0.999"
            else:
                f32_ref[(model_name, adapter, cname)] = emb
            if dtype == torch.float32 and adapter is None and cname in FULL_HIDDEN_CASES:
                key = cid + "/last_hidden"
                tensors[key] = hs.numpy().astype(np.float32)
                entry["last_hidden_key"] = key
            cases.append(entry)
            # Vision tower output per image (after the 2x2 merger), for
            # debugging the vision graph on its own.
            if dtype == torch.float32 and adapter is None and "pixel_values" in batch:
                off_p = 0
                for k, thw in enumerate(batch["image_grid_thw"].tolist()):
                    n = int(np.prod(thw))
                    key = f"{model_name}:{img_ids[k]}/image_embeds"
                    if key not in image_embeds_done:
                        with torch.no_grad():
                            e = core.model.get_image_features(batch["pixel_values"][off_p : off_p + n], batch["image_grid_thw"][k : k + 1])
                        tensors[key] = e.float().numpy()
                        image_embeds_done.add(key)
                    off_p += n
    return cases, tensors


def write_json(path, obj):
    """Pretty at the top level, one compact line per list entry: small,
    diffable, and floats keep their shortest round-trip repr (exact float32)."""
    items = list(obj.items())
    lines = ["{"]
    for i, (k, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f" {json.dumps(k)}: [")
            for j, e in enumerate(v):
                lines.append("  " + json.dumps(e, separators=(",", ":")) + ("," if j < len(v) - 1 else ""))
            lines.append(" ]" + comma)
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v)}{comma}")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def save_tensors(path, tensors):
    np_save_file({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # bitwise-reproducible CPU reductions
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    versions = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
    }
    print("versions:", versions)

    tok = train_tokenizer()
    paths = {}
    for name, spec in MODEL_SPECS.items():
        paths[name] = make_checkpoint(name, spec, tok, out)
        print("checkpoint", paths[name])
    paths["tiny-a-lora"] = make_adapter(paths["tiny-a"], os.path.join(out, "tiny-a-lora"), use_dora=False, seed=3003, legacy=True)
    paths["tiny-a-dora"] = make_adapter(paths["tiny-a"], os.path.join(out, "tiny-a-dora"), use_dora=True, seed=4004, legacy=True)

    img_dir = os.path.join(out, "images")
    if os.path.isdir(img_dir):
        shutil.rmtree(img_dir)
    images = make_images(img_dir)

    pcases, ptensors, worst_fast = run_processor_goldens(out, img_dir, images)
    rcases, rtensors = run_resample_goldens()
    ptensors.update(rtensors)
    save_tensors(os.path.join(out, "processor_goldens.safetensors"), ptensors)
    write_json(
            os.path.join(out, "processor_goldens.json"),
            {
                "schema": "qwen2vl-processor-goldens/1",
                "versions": versions,
                "reference": "transformers Qwen2VLImageProcessor (PIL, use_fast=False); fast = Qwen2VLImageProcessorFast (torchvision)",
                "tensors": "processor_goldens.safetensors",
                "fast_processor_max_abs_diff_overall": worst_fast,
                "cases": pcases,
                "resample_cases": rcases,
                "smart_resize_cases": run_smart_resize_goldens(),
            },
    )

    ecases, etensors = run_encoder_goldens(out, img_dir, images, tok, paths)
    save_tensors(os.path.join(out, "encoder_goldens.safetensors"), etensors)
    special = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    write_json(
            os.path.join(out, "encoder_goldens.json"),
            {
                "schema": "qwen2vl-encoder-goldens/1",
                "versions": versions,
                "attn_implementation": "eager",
                "pooling": "VLM2Vec _pooling 'last': position L-1 for all rows if attention_mask[:, -1] is all 1, else sum(mask)-1 per row; hidden_states[-1] = output of the final RMSNorm; embedding = L2-normalised pooled hidden",
                "default_padding_side": DEFAULT_PADDING_SIDE,
                "special_token_ids": special,
                "tensors": "encoder_goldens.safetensors",
                "cases": ecases,
            },
    )
    print("processor cases:", len(pcases), "encoder cases:", len(ecases), "fast max diff:", worst_fast)


if __name__ == "__main__":
    main()
