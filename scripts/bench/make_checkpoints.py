#!/usr/bin/env python3
"""Random Qwen2-VL checkpoints and fixed inputs for the benchmarks.

Writes, under .cache/bench/ (gitignored):

  small/     tiny-b's architecture (hidden 96, 3 layers, 6 heads / 1 KV head,
             vision embed 48, depth 2), re-initialised with a fixed seed;
  2b-slice/  Qwen2-VL-2B-Instruct's widths (hidden 1536, 12 heads, 2 KV heads,
             intermediate 8960, mrope_section [16, 24, 24], rms eps 1e-6;
             vision embed 1280, 16 heads, mlp_ratio 4, patch 14, merge 2,
             temporal 2) with 2 decoder layers instead of 28, 2 vision blocks
             instead of 32, and the tiny tokenizer's 960-entry vocabulary
             instead of 151,936 (so the embedding table and LM head stay
             small; neither is on the embedding path's hot loop);
  images/    eight deterministic 224x224 PNGs (224 is a multiple of 28, so the
             processor keeps the size: 16x16 patches, 64 visual tokens each).

Every checkpoint is written by transformers' save_pretrained (float32
safetensors), with the tokenizer files copied from
encoder/qwen2vl/testdata/tiny-a and a preprocessor_config.json with
Qwen2-VL's default pixel bounds (min 56*56, max 28*28*16384), so a 224x224
image is not resized.

    /work/venv-goldens/bin/python scripts/bench/make_checkpoints.py [--out DIR] [--only NAME]
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from PIL import Image
from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "goldens", "qwen2vl"))
from make_goldens import model_config_dict  # noqa: E402
TINY_A = os.path.join(REPO, "encoder", "qwen2vl", "testdata", "tiny-a")
DEFAULT_OUT = os.path.join(REPO, ".cache", "bench")

TOKENIZER_FILES = [
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "special_tokens_map.json",
]

# The full Qwen2-VL-2B depth and widths (random weights, tiny vocabulary):
# only made on request (--only 2b), for the GPU benchmark (scripts/gpu).
FULL_2B = dict(
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    mrope_section=[16, 24, 24],
    vision=dict(depth=32, embed_dim=1280, num_heads=16, mlp_ratio=4),
    seed=13,
)

# name -> (text widths, vision widths, seed)
SPECS = {
    "small": dict(
        hidden_size=96,
        intermediate_size=80,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=1,
        mrope_section=[4, 2, 2],
        vision=dict(depth=2, embed_dim=48, num_heads=3, mlp_ratio=2),
        seed=11,
    ),
    # 2B's widths, 2 decoder layers and 2 vision blocks.
    "2b-slice": dict(FULL_2B, num_hidden_layers=2, vision=dict(FULL_2B["vision"], depth=2), seed=12),
    "2b": FULL_2B,
}


def config_for(spec):
    """The test checkpoints' config template (make_goldens.py) with these
    widths, untied embeddings and tiny-a's special-token ids."""
    tok = AutoTokenizer.from_pretrained(TINY_A)
    return Qwen2VLConfig.from_dict(model_config_dict(dict(spec, tie_word_embeddings=False), tok))


def write_preprocessor_config(path):
    cfg = {
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
        "min_pixels": 3136,
        "max_pixels": 12845056,
        "merge_size": 2,
        "patch_size": 14,
        "resample": 3,
        "rescale_factor": 1 / 255,
        "temporal_patch_size": 2,
    }
    with open(os.path.join(path, "preprocessor_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def make_checkpoint(out, name, spec):
    path = os.path.join(out, name)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    config = config_for(spec)
    config._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = Qwen2VLForConditionalGeneration(config).eval()  # transformers' own init (std 0.02)
    model.save_pretrained(path, safe_serialization=True)
    for fn in TOKENIZER_FILES:
        shutil.copy(os.path.join(TINY_A, fn), path)
    write_preprocessor_config(path)
    n = sum(p.numel() for p in model.parameters())
    print(f"{name}: {n / 1e6:.1f}M parameters -> {path}")


def make_images(out):
    d = os.path.join(out, "images")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:224, 0:224].astype(np.float32)
    for i in range(8):
        # Smooth colour gradients plus noise: photo-like, deterministic.
        r = 128 + 100 * np.sin(xx / (17 + 3 * i) + i)
        g = 128 + 100 * np.cos(yy / (23 + 2 * i) - i)
        b = 128 + 100 * np.sin((xx + yy) / (31 + i))
        arr = np.stack([r, g, b], -1) + rng.normal(0, 12, (224, 224, 3))
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(os.path.join(d, f"img{i}.png"))
    print(f"images -> {d}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", choices=sorted(SPECS), action="append")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}", file=sys.stderr)
    for name in args.only or [n for n in sorted(SPECS, reverse=True) if n != "2b"]:
        make_checkpoint(args.out, name, SPECS[name])
    make_images(args.out)


if __name__ == "__main__":
    main()
