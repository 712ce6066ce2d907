#!/usr/bin/env python3
"""Checks that an adapter trained in Go loads in Python PEFT and gives the
embeddings the Go encoder gives: loads tiny-phi3v + testdata/tiny-phi3v-go-dora
(written by examples/train_lora: DoRA r 4 on VLM2Vec's default targets, the
decoder's qkv/o/gate_up/down_proj and CLIP's q/k/v/out_proj, 30
steps on the synthetic shapes set, one crop per image) into VLM2Vec's
vendored Phi3VForCausalLM with PEFT and records the VLM2Vec embeddings of a
few inputs (num_crops 4, the checkpoint's) in testdata/go_adapter_goldens.json,
which encoder's TestPhi3VGoTrainedAdapterInPEFT compares against.

    /tmp/venvphi/bin/python scripts/goldens/phi3v/peft_roundtrip.py --vlm2vec /tmp/vlm2vec-src
"""
import argparse
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
    ap = argparse.ArgumentParser()
    ap.add_argument("--vlm2vec", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    spec = mg.SPECS["tiny-phi3v"]
    ref = mg.load_reference(args.vlm2vec, spec["vision"]["hidden_size"])
    base = os.path.join(mg.OUT, "tiny-phi3v")
    adapter = os.path.join(mg.OUT, "tiny-phi3v-go-dora")
    tok = mg.LlamaTokenizerFast.from_pretrained(base)
    proc = mg.make_processor(ref, tok, spec["num_crops"])
    img_dir = os.path.join(mg.OUT, "images")
    batch, _ = mg.build_batch(proc, ROWS, img_dir)
    _, emb = mg.embed(mg.load(ref, spec, base, adapter), batch)
    _, plain = mg.embed(mg.load(ref, spec, base), batch)
    moved = float((emb - plain).abs().max())
    assert moved > 1e-3, moved  # the adapter must change the vectors
    out = {"base": "tiny-phi3v", "adapter": "tiny-phi3v-go-dora", "rows": ROWS,
           "embedding": [[float(x) for x in e] for e in emb.tolist()], "max_abs_change_vs_base": moved}
    with open(os.path.join(mg.OUT, "go_adapter_goldens.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("adapter moved embeddings by", moved)


if __name__ == "__main__":
    main()
