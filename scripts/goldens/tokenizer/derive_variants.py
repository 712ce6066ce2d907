#!/usr/bin/env python3
"""Derives synthetic tokenizer.json variants from the fetched reference files.

Each variant keeps a real vocabulary and merges but swaps the pipeline
components, so that the golden tests exercise code paths the published
files do not: Metaspace pre-tokenizers (the current Mistral/Llama format),
the GPT-2 ByteLevel regex with a prefix space and RobertaProcessing, a
general regex (regexp2 fallback), added-token flags (lstrip, rstrip,
single_word, normalized), NFKC, Lowercase, Strip and Digits.

Standard library only; called by scripts/fetch_tokenizers.sh.
Usage: derive_variants.py <tokenizers dir>
"""
import copy
import hashlib
import json
import os
import sys

RECIPE_VERSION = "1"

# The o200k-style pattern: \p{Lu}-classes, (?i:) groups, [\r\n/]; it has no
# hand-written matcher in the Go code, so it runs through regexp2.
O200K_LIKE = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

LLAMA_DECODER = {
    "type": "Sequence",
    "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"},
        {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0},
    ],
}


def added(id_, content, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False):
    return {
        "id": id_, "content": content, "single_word": single_word, "lstrip": lstrip,
        "rstrip": rstrip, "normalized": normalized, "special": special,
    }


def mistral_metaspace(t):
    # Mistral v0.3 / Llama "legacy": false layout.
    t["normalizer"] = None
    t["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    t["decoder"] = copy.deepcopy(LLAMA_DECODER)
    return t, None


def mistral_metaspace_split(t):
    t["normalizer"] = None
    t["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    t["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        {"type": "ByteFallback"},
        {"type": "Fuse"},
    ]}
    return t, None


def phi3_style(t):
    # Phi-3's added tokens on the Mistral vocabulary (same 32000 size),
    # plus tokens covering every AddedToken flag.
    toks = t["added_tokens"]
    n = 32000
    for i, (content, rstrip) in enumerate([
        ("<|endoftext|>", False), ("<|assistant|>", True), ("<|placeholder1|>", True),
        ("<|placeholder2|>", True), ("<|placeholder3|>", True), ("<|placeholder4|>", True),
        ("<|system|>", True), ("<|end|>", True), ("<|placeholder5|>", True),
        ("<|placeholder6|>", True), ("<|user|>", True),
    ]):
        toks.append(added(n + i, content, rstrip=rstrip))
    n += 11
    toks.append(added(n, "<|image|>")); n += 1
    toks.append(added(n, "<|lr|>", lstrip=True, rstrip=True)); n += 1
    toks.append(added(n, "<|ls|>", lstrip=True)); n += 1
    toks.append(added(n, "<|sw|>", special=False, single_word=True)); n += 1
    toks.append(added(n, "cat", special=False, single_word=True)); n += 1
    toks.append(added(n, "hello world", special=False, normalized=True)); n += 1
    toks.append(added(n, "<|norm|>", special=True, normalized=True)); n += 1
    # Already in the vocabulary: keeps its vocabulary id.
    toks.append(added(0, "\u2581the", special=False))
    cfg = {
        "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>", "unk_token": "<unk>", "padding_side": "right",
        "model_max_length": 131072, "clean_up_tokenization_spaces": False,
        "tokenizer_class": "LlamaTokenizer",
    }
    return t, cfg


def mistral_nfkc_digits(t):
    t["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFKC"},
        {"type": "Lowercase"},
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    ]}
    t["pre_tokenizer"] = {"type": "Digits", "individual_digits": True}
    return t, None


def qwen3_gpt2style(t):
    t["normalizer"] = None
    t["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    t["post_processor"] = {
        "type": "RobertaProcessing", "sep": ["<|im_end|>", 151645], "cls": ["<|im_start|>", 151644],
        "trim_offsets": True, "add_prefix_space": True,
    }
    t["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    return t, None


def qwen3_regex(t):
    t["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFC"},
        {"type": "Replace", "pattern": {"Regex": "\t+"}, "content": "\t"},
    ]}
    t["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": O200K_LIKE}, "behavior": "Isolated", "invert": False},
        {"type": "Digits", "individual_digits": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
    ]}
    return t, None


# variant name -> (source name, recipe)
VARIANTS = {
    "mistral-metaspace": ("mistral", mistral_metaspace),
    "mistral-metaspace-split": ("mistral", mistral_metaspace_split),
    "phi3-style": ("mistral", phi3_style),
    "mistral-nfkc-digits": ("mistral", mistral_nfkc_digits),
    "qwen3-gpt2style": ("qwen3", qwen3_gpt2style),
    "qwen3-regex": ("qwen3", qwen3_regex),
}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    root = sys.argv[1]
    sources = {}
    for name, (src, recipe) in VARIANTS.items():
        src_path = os.path.join(root, src, "tokenizer.json")
        out_dir = os.path.join(root, name)
        stamp = hashlib.sha256((RECIPE_VERSION + sha256_file(src_path) + name).encode()).hexdigest()
        stamp_path = os.path.join(out_dir, ".stamp")
        if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
            print(f"derive_variants: {name} up to date")
            continue
        if src not in sources:
            with open(src_path, encoding="utf-8") as f:
                sources[src] = json.load(f)
        t, cfg = recipe(copy.deepcopy(sources[src]))
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(t, f, ensure_ascii=False)
        cfg_path = os.path.join(out_dir, "tokenizer_config.json")
        if cfg is not None:
            with open(cfg_path, "w", encoding="utf-8") as f:
                json.dump(cfg, f, ensure_ascii=False, indent=1)
        elif os.path.exists(cfg_path):
            os.remove(cfg_path)
        with open(stamp_path, "w") as f:
            f.write(stamp)
        print(f"derive_variants: wrote {name}")


if __name__ == "__main__":
    main()
