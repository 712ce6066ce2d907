#!/usr/bin/env python3
"""Summarises a GPU run of scripts/gpu/run.sh (stdlib only):

    python3 scripts/gpu/report.py RESULTS_DIR CONFIG_JSON > RESULTS.md

RESULTS_DIR holds what run.sh writes (gpu.csv, parity_*.txt, embed_go.txt,
embed_torch_<kind>.json, step_go_<batch>.txt, step_torch_<batch>.json,
mem_<batch>.txt); CONFIG_JSON is the benchmark checkpoint's config.json.

MFU is the model FLOPs a batch needs (scripts/bench/flops.py: decoder over
the padded tokens each side computes, vision attention within each image,
multiply-add = 2 FLOP) per second, over the GPU's dense bf16 peak.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from flops import lm_flops, vision_flops  # noqa: E402
from parse import go_benches, last_json  # noqa: E402

# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from NVIDIA's data sheets.
PEAKS = [("H200", 989.4), ("H100 PCIe", 756.0), ("H100", 989.4), ("A100", 312.0)]

# The image inputs of scripts/bench/inputs.json: eight 224x224 images,
# 256 patches each.
IMAGES, PATCHES_PER_IMAGE = 8, 256


def read(res, name):
    p = os.path.join(res, name)
    return open(p).read() if os.path.exists(p) else ""


def peak_tflops(gpu):
    for name, tf in PEAKS:
        if all(w in gpu for w in name.split()):
            return tf
    return None


def main():
    res, cfg_path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(cfg_path))
    gpu = read(res, "gpu.csv").strip().splitlines()
    gpu = gpu[1] if len(gpu) > 1 else "unknown GPU"
    peak = peak_tflops(gpu)
    w = print
    w("# GPU results")
    w("")
    w(f"GPU: {gpu}; dense bf16 peak used for MFU: {peak or 'unknown'} TFLOP/s.")
    w("")
    w("## Parity on XLA CUDA")
    w("")
    for name in ("parity_qwen2vl.txt", "parity_encoder.txt"):
        t = read(res, name)
        passed = len(re.findall(r"^--- PASS", t, re.M)) + len(re.findall(r"^\s+--- PASS", t, re.M))
        failed = re.findall(r"--- FAIL: (\S+)", t)
        verdict = t.strip().splitlines()[-1] if t.strip() else "not run"
        w(f"- `{name}`: {verdict}; {passed} passed, {len(failed)} failed {failed[:5] if failed else ''}")
    w("")
    w("## Embedding, full Qwen2-VL-2B size (random weights), bf16, batch of 8")
    w("")
    w("| input | side | s/batch | items/s | tokens/s (real) | GFLOP/batch | TFLOP/s | MFU |")
    w("|---|---|---|---|---|---|---|---|")
    go = go_benches(read(res, "embed_go.txt"))
    for kind in ("text", "image"):
        g = go.get(f"BenchmarkEmbed/2b/{kind}/bf16")
        t = last_json(read(res, f"embed_torch_{kind}.json"))
        vis = vision_flops(cfg, IMAGES * PATCHES_PER_IMAGE, PATCHES_PER_IMAGE) if kind == "image" else 0
        rows = []
        if g:
            rows.append(("Go, XLA CUDA", g["ns/op"] / 1e9, g.get("items/s"), g.get("tokens/s"), int(g["padded-tokens/op"]) // 8))
        if t:
            rows.append(("PyTorch (sdpa)", t["s_per_batch_mean"], t["items_per_s"], t.get("tokens_per_s"), t["padded_tokens"] // 8))
        for side, sec, items, toks, seq in rows:
            fl = vis + lm_flops(cfg, 8, seq)
            tfs = fl / sec / 1e12
            mfu = f"{100 * tfs / peak:.1f}%" if peak else "n/a"
            w(f"| {kind} | {side} | {sec:.4f} | {items:.1f} | {toks or 0:.0f} | {fl / 1e9:.0f} | {tfs:.1f} | {mfu} |")
    w("")
    w("## GradCache train step (LoRA, chunk 8), float32 weights")
    w("")
    w("| batch | Go s/step | Go examples/s | Go peak GPU MiB (nvidia-smi) | PyTorch s/step | PyTorch examples/s | PyTorch peak allocated MiB |")
    w("|---|---|---|---|---|---|---|")
    for batch in (16, 64, 256):
        g = go_benches(read(res, f"step_go_{batch}.txt")).get(f"BenchmarkGradCacheStep/gradcache/batch={batch}")
        t = last_json(read(res, f"step_torch_{batch}.json"))
        mem = [int(x) for x in read(res, f"mem_{batch}.txt").split() if x.isdigit()]
        if not g and not t:
            continue
        w(f"| {batch} | {g['ns/op'] / 1e9:.3f} | {g['examples/s']:.1f} | {max(mem) if mem else 'n/a'} |" if g else f"| {batch} | n/a | n/a | n/a |",
          end="")
        w(f" {t['s_per_step_mean']:.3f} | {t['examples_per_s']:.1f} | {t.get('peak_gpu_mb') or 'n/a'} |" if t else " n/a | n/a | n/a |")
    w("")
    w("nvidia-smi reports the memory XLA's allocator holds (it grows and does not shrink), PyTorch's column")
    w("is `torch.cuda.max_memory_allocated` for the step: the two are not the same measure.")


if __name__ == "__main__":
    main()
