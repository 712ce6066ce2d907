#!/usr/bin/env python3
"""Checks that an adapter trained in Go loads in Python PEFT and gives the
embeddings the Go encoder gives: loads tiny-a + testdata/tiny-a-go-dora (written by
examples/train_lora) with transformers + PEFT and records the VLM2Vec
embeddings of a few inputs in testdata/go_adapter_goldens.json, which
encoder's TestGoTrainedAdapterInPEFT compares against.

    /work/venv-goldens/bin/python scripts/goldens/qwen2vl/peft_roundtrip.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import make_goldens as mg  # reuse the reference batching/pooling of the golden set

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "..", "..", "encoder", "qwen2vl", "testdata")

ROWS = [
    {"text": "<|image_pad|>\nFind an image caption describing the given everyday image.\n", "images": ["photo_120x90"]},
    {"text": "Find me an everyday image that matches the given caption: a red circle on a white background\n", "images": []},
    {"text": "<|image_pad|>\nRepresent the given image.\n", "images": ["wide_300x40"]},
    {"text": "a blue square on a black background", "images": []},
]


def main():
    torch.manual_seed(0)
    base = os.path.join(TESTDATA, "tiny-a")
    adapter = os.path.join(TESTDATA, "tiny-a-go-dora")
    model = mg.load_adapter_model(base, adapter, torch.float32)
    from transformers import AutoTokenizer, Qwen2VLImageProcessor
    tok = AutoTokenizer.from_pretrained(base)
    ip = Qwen2VLImageProcessor.from_pretrained(base)
    images = {os.path.splitext(f)[0]: f for f in os.listdir(os.path.join(TESTDATA, "images"))}
    batch, _ = mg.build_batch(tok, ip, ROWS, "right", os.path.join(TESTDATA, "images"), images)
    with torch.no_grad():
        _, _, _, emb = mg.forward(model, batch)
    out = {"adapter": "tiny-a-go-dora", "rows": ROWS, "embedding": emb.tolist(),
           "versions": {"torch": torch.__version__, "transformers": mg.transformers.__version__, "peft": mg.peft.__version__}}
    with open(os.path.join(TESTDATA, "go_adapter_goldens.json"), "w") as f:
        json.dump(out, f)
    print("wrote", len(ROWS), "embeddings")


if __name__ == "__main__":
    main()
