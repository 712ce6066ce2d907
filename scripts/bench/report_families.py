#!/usr/bin/env python3
"""Writes docs/BENCHMARKS-FAMILIES.md: the model-family rows of
scripts/bench/run.sh (LLaVA-NeXT, Phi-3.5-V and Qwen3-VL slices at their real
widths against PyTorch + transformers on the same CPU), from the results
directory (stdlib only).

    python3 scripts/bench/report_families.py RESULTS_DIR OUT.md

A run that measures only some families (ONLY=...) replaces their rows and
keeps the other rows of OUT.md, each tagged with the run (machine, date,
versions) that measured it: a ratio is only ever between two sides of one
run, never across machines.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parse import last_json  # noqa: E402
from results import Results, compile_s  # noqa: E402

RES, OUT = sys.argv[1], sys.argv[2]

FAMILIES = [
    ("llava-slice", "LLaVA-NeXT", "llava-v1.6-mistral-7b's widths: Mistral decoder hidden 4096, 32/8 heads, MLP 14336, "
     "**2 layers instead of 32**; CLIP ViT-L/14-336 (1024 wide, 16 heads), **3 layers instead of 24** (feature layer -2 runs 2); "
     "the real grid pinpoints; the tiny test tokenizer's vocabulary",
     "LlavaNextProcessor and LlavaNextForConditionalGeneration's inner model (transformers, eager attention)"),
    ("phi3v-slice", "Phi-3.5-V", "Phi-3.5-vision-instruct's widths: Phi-3 decoder hidden 3072, 32 heads, MLP 8192, su rope, "
     "**2 layers instead of 32**; CLIP ViT-L/14-336, **3 layers instead of 24** (layer -2 runs 2); num_crops 4; "
     "the tiny test tokenizer's vocabulary",
     "VLM2Vec's vendored Phi3VProcessor and Phi3VModel (the reference code, eager attention)"),
    ("qwen3vl-slice", "Qwen3-VL-Embedding", "Qwen3-VL-2B's widths: Qwen3 decoder hidden 2048, 16/8 heads of 128, MLP 6144, interleaved M-RoPE, "
     "**2 layers instead of 28**; vision tower 1024 wide, 16 heads, MLP 4096, **3 blocks instead of 24** (2 DeepStack levels "
     "instead of 3); the tiny test tokenizer's vocabulary",
     "qwen-vl-utils + Qwen3VLProcessor + Qwen3VLModel as Qwen3-VL-Embedding's embedder calls them (transformers 4.57.3, eager attention)"),
]


_results = Results(RES)
read, go_bench = _results.read, _results.go_bench


def torch_result(name):
    return _results.read_json(name)


def fmt(x, digits=3):
    return "n/a" if x is None else f"{x:.{digits}f}"


ROW = re.compile(r"^\| (?:(?P<run>[A-Z]) \| )?(?P<fam>[^|(]+) \((?P<ck>[\w-]+)\) \| (?P<kind>text|image) \|(?P<rest>.*)$")
RUN = re.compile(r"^- \*\*(?P<id>[A-Z])\*\* (?P<text>.*)$")


def previous(path):
    """The runs and rows of an existing report: ({id: text}, [(run, ck, kind, line-after-run)])."""
    try:
        with open(path) as f:
            old = f.read().splitlines()
    except FileNotFoundError:
        return {}, []
    runs, rows, legacy = {}, [], []
    for line in old:
        if m := RUN.match(line):
            runs[m["id"]] = m["text"]
        elif line.startswith(("- CPU:", "- Date:", "- PyTorch:")):
            legacy.append(line[2:].rstrip("."))  # the one-run layout this report had first
        elif m := ROW.match(line):
            rows.append((m["run"] or "A", m["ck"], m["kind"], f"| {m['fam'].strip()} ({m['ck']}) | {m['kind']} |{m['rest']}"))
    if not runs and legacy:
        runs["A"] = "; ".join(legacy) + "."
    return runs, rows


def main():
    machine = json.loads(read("machine.json") or "{}")
    tinfo = last_json(read("torch_info.json") or "") or {}
    this_run = (f"{machine.get('date', '?')}: CPU {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores "
                f"({machine.get('flags', '')}), {machine.get('mem', '?')}, 1-minute load at the start {machine.get('load_start', '?')} "
                f"({'quiet' if machine.get('quiet') else 'NOT quiet: numbers taken on a busy machine'}); "
                f"{machine.get('go', '?')}, `GOEXPERIMENT={machine.get('goexperiment', '')}`; torch {tinfo.get('torch', '?')}, "
                f"transformers {tinfo.get('transformers', '?')}, {tinfo.get('threads', '?')} threads, "
                f"CPU capability {tinfo.get('cpu_capability', '?')}.")
    new_rows = {}
    for ck, fam, _, _ in FAMILIES:
        for kind in ("text", "image"):
            base = f"embed_{ck}_{kind}_f32"
            g, x, t = go_bench(base + ".go.txt"), go_bench(base + ".xla.txt"), torch_result(base + ".torch.json")
            if g is None and t is None:
                continue
            gs = g["ns/op"] / 1e9 if g else None
            xs = x["ns/op"] / 1e9 if x else None
            ts = t["s_per_batch_mean"] if t else None
            ratio = f"{ts / gs:.2f}" if gs and ts else "n/a"
            xratio = f"{ts / xs:.2f}" if xs and ts else "n/a"
            toks = f"{int(g['tokens/op']) if g else '?'} / {int(g['padded-tokens/op']) if g else '?'} / {t['padded_tokens'] if t else '?'}"
            new_rows[(ck, kind)] = (f"| {fam} ({ck}) | {kind} | {toks} | {fmt(gs)} | {fmt(xs)} | {fmt(ts)} | {ratio} | {xratio} | "
                                    f"{compile_s(g, 1)} / {compile_s(x, 1)} |")
    old_runs, old_rows = previous(OUT)
    kept = [r for r in old_rows if (r[1], r[2]) not in new_rows]
    # Runs keep their letters while rows refer to them; this run takes the next free one.
    runs = {rid: text for rid, text in old_runs.items() if any(r[0] == rid for r in kept)}
    current = next(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in runs)
    if new_rows:
        runs[current] = this_run
    table = {(ck, kind): (run, line) for run, ck, kind, line in kept}
    table.update({k: (current, line) for k, line in new_rows.items()})

    lines = []
    w = lines.append
    w("# Benchmarks: model families")
    w("")
    w("Generated by `scripts/bench/run.sh` (`scripts/bench/report_families.py`; do not edit by hand). The")
    w("embedding throughput of each model family other than Qwen2-VL (whose rows, GradCache steps and")
    w("profiles are in [BENCHMARKS.md](BENCHMARKS.md)) against PyTorch + transformers on the same CPU, in")
    w("the same invocation, alternating within each row; each side's faster of two rounds is reported.")
    w("A partial run (`ONLY=...`) replaces its own rows and keeps the others.")
    w("")
    w("Runs (each row names the one that measured it; Go runs with the pure-Go backend, XLA CPU is the same")
    w("test binary with `GOMLX_BACKEND=xla:cpu` at its default optimisation level; PyTorch in float32):")
    w("")
    for rid in sorted(runs):
        w(f"- **{rid}** {runs[rid]}")
    w("")
    w("## Checkpoints and inputs")
    w("")
    w("Random weights at each family's real widths and few layers, written by the family's golden generator")
    w("(`scripts/goldens/<family>/make_goldens.py --bench-out .cache/bench`, float32 safetensors). The")
    w("per-layer cost is the real model's; a full model costs roughly 16x the decoder part (32 layers) and")
    w("12x the vision part (24 CLIP layers, 2 run here) measured here.")
    w("")
    w("| name | family | widths | PyTorch side |")
    w("|---|---|---|---|")
    for ck, fam, desc, ref in FAMILIES:
        w(f"| {ck} | {fam} | {desc} | {ref} |")
    w("")
    w("Inputs: `scripts/bench/inputs.json`, VLM2Vec's V1 prompts with the family's image placeholder")
    w("(Qwen3-VL-Embedding: its own template, the instruction as the system turn; a 224x224 image is 49 tokens).")
    w("*text*: the 8 instruction + caption inputs, one batch of 8. *image*: the first 2 image inputs (224x224")
    w("images with an instruction), one batch of 2: an image is 1,176 tokens for LLaVA-NeXT (anyres 336x672,")
    w("3 CLIP crops) and 757 for Phi-3.5-V (4 crops: a 2x2 HD grid plus the global image, 5 CLIP crops).")
    w("Timing is end to end from decoded images (processor, tokenizer, model, pooling, L2 normalisation). Go")
    w("pads rows to its length bucket and crops to `family.CountBucket`; PyTorch pads to the longest row.")
    w("")
    w("## Embedding throughput")
    w("")
    w("| run | family | input | tokens real / padded Go / padded PyTorch | Go backend s/batch | XLA CPU s/batch | PyTorch s/batch | Go / PyTorch | XLA / PyTorch | compile s (Go / XLA) |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for ck, _, _, _ in FAMILIES:
        for kind in ("text", "image"):
            if (ck, kind) in table:
                run, line = table[(ck, kind)]
                w(f"| {run} {line}")
    if not table:
        w("| | (no family rows yet) | | | | | | | | |")
    w("")
    w("Go / PyTorch and XLA / PyTorch are speed ratios (PyTorch's s/batch over ours): above 1 ours is faster.")
    w("s/batch is the mean of the timed iterations after one warm-up call; *compile s* is the warm-up call's")
    w("time minus a timed call's. Raw outputs: `.cache/bench/results/`.")
    w("")
    w("## How to reproduce")
    w("")
    w("```sh")
    w("VLM2VEC_SRC=/path/to/VLM2Vec PYTHON=/path/to/venv/bin/python \\")
    w("  ONLY=\"embed_llava-slice_text_f32 embed_llava-slice_image_f32 embed_phi3v-slice_text_f32 embed_phi3v-slice_image_f32\" \\")
    w("  OUT_MD=/tmp/BENCHMARKS-partial.md bash scripts/bench/run.sh")
    w("```")
    w("")
    w("(a full `bash scripts/bench/run.sh` writes these rows too). The Python environment is the families'")
    w("pin (transformers 4.52.3, torch 2.15.0, torchvision; `scripts/goldens/phi3v/requirements.txt`); the")
    w("qwen3vl-slice rows run `QWEN3_PYTHON`, Qwen3-VL's own pin (`scripts/goldens/qwen3vl/requirements.txt`).")
    with open(OUT + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(OUT + ".tmp", OUT)


if __name__ == "__main__":
    main()
