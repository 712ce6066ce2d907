#!/usr/bin/env python3
"""Checks that an adapter trained in Go loads in Python PEFT and gives the
embeddings the Go encoder gives: loads tiny-llava + testdata/tiny-llava-go-dora
(written by examples/train_lora: DoRA r 4 on q/k/v/o/down/gate/up_proj, which
adapt the decoder and CLIP's q/k/v projections, 30 steps
on the synthetic shapes set) with transformers + PEFT and records the
VLM2Vec embeddings of a few inputs in testdata/go_adapter_goldens.json,
which encoder's TestLLaVANextGoTrainedAdapterInPEFT compares against.

    /tmp/venvllava/bin/python scripts/goldens/llavanext/peft_roundtrip.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_goldens as mg  # noqa: E402  (ours: the reference batching and pooling)

ROWS = [
    mg.R(mg.IMG_Q, "photo_120x90.png"),
    mg.R(mg.TXT_Q),
    mg.R(mg.IMG_D, "photo_300x40.png"),
    mg.R("a blue square on a black background"),
]


def main():
    torch.set_num_threads(1)
    base = os.path.join(mg.OUT, "tiny-llava")
    adapter = os.path.join(mg.OUT, "tiny-llava-go-dora")
    model = mg.load(base, adapter)
    from transformers import LlavaNextProcessor
    proc = LlavaNextProcessor.from_pretrained(base)
    batch = mg.build_batch(proc, ROWS, os.path.join(mg.OUT, "images"))
    _, emb = mg.embed(model, batch)
    _, plain = mg.embed(mg.load(base), batch)
    moved = float((emb - plain).abs().max())
    assert moved > 1e-3, moved  # the adapter must change the vectors
    out = {"base": "tiny-llava", "adapter": "tiny-llava-go-dora", "rows": ROWS,
           "embedding": [[float(x) for x in e] for e in emb.tolist()], "max_abs_change_vs_base": moved}
    with open(os.path.join(mg.OUT, "go_adapter_goldens.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("adapter moved embeddings by", moved)


if __name__ == "__main__":
    main()
