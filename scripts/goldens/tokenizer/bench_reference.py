#!/usr/bin/env python3
"""Times the Rust reference (tokenizers from PyPI) on the golden strings.

Prints tokens/s for a single-threaded encode() loop (Python call overhead
included, as any caller pays it) and for encode_batch (Rust threads over the
whole list). Compare with: go test ./encoder/tokenizer -bench BenchmarkEncode

Usage: bench_reference.py [--reps 5] [names...]   (default: qwen3 mistral llama3)
"""
import argparse
import gzip
import json
import os
import time

import tokenizers
from tokenizers import Tokenizer


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.environ.get("VLM2VEC_TOKENIZERS_DIR", os.path.join(repo, ".cache", "tokenizers")))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("names", nargs="*", default=["qwen3", "mistral", "llama3"])
    args = ap.parse_args()
    print(f"tokenizers {tokenizers.__version__}, {os.cpu_count()} CPUs, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}")
    for name in args.names:
        golden = os.path.join(repo, "encoder", "tokenizer", "testdata", f"golden_{name}.jsonl.gz")
        with gzip.open(golden, "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f][1:]
        texts = [r["t"] for r in rows if "t" in r]
        tok = Tokenizer.from_file(os.path.join(args.dir, name, "tokenizer.json"))
        tok.encode_batch(texts[:100])  # warm up (the word cache too, as in the Go benchmark)
        for s in texts:
            tok.encode(s)

        best = None
        for _ in range(args.reps):
            t0 = time.perf_counter()
            n = 0
            for s in texts:
                n += len(tok.encode(s, add_special_tokens=True).ids)
            dt = time.perf_counter() - t0
            best = dt if best is None or dt < best else best
        loop = n / best

        best = None
        for _ in range(args.reps):
            t0 = time.perf_counter()
            encs = tok.encode_batch(texts, add_special_tokens=True)
            dt = time.perf_counter() - t0
            n = sum(len(e.ids) for e in encs)
            best = dt if best is None or dt < best else best
        batch = n / best
        print(f"{name}: {len(texts)} strings, {n} tokens: encode loop {loop:,.0f} tokens/s, encode_batch {batch:,.0f} tokens/s")


if __name__ == "__main__":
    main()
