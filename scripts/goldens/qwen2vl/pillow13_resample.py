#!/usr/bin/env python3
"""Resize goldens from Pillow >= 13, whose resampler changed its pass order.

Pillow up to 12.x always runs the horizontal pass first. Pillow 13.0 runs the
vertical pass first when the height shrinks by more than twice as many
pixels as the width does (in_h - out_h > 0 and > 2 * (in_w - out_w)). Because
the intermediate image is rounded to uint8, the order changes the output (by
up to ~11 levels on real images). VLM2Vec's environment (transformers 4.52.3,
2025) predates Pillow 13, so the processor follows the old order by default.
This file pins the new order for ImageProcessor.PassOrder = PassOrderPillow13.

Run with Pillow 13 (and numpy, safetensors) installed:

    python3 -m venv /tmp/venv13 && /tmp/venv13/bin/pip install pillow==13.0.0 numpy safetensors
    /tmp/venv13/bin/python pillow13_resample.py   # writes encoder/qwen2vl/testdata/pillow13_resample.safetensors

Each case stores "<case>/src" (uint8 [h, w, 3]) and "<case>/<filter>"
(uint8 [out_h, out_w, 3]); the shapes carry the sizes.
"""

import os

import numpy as np
import PIL
from PIL import Image
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "..", "encoder", "qwen2vl", "testdata")


def main():
    major = int(PIL.__version__.split(".")[0])
    assert major >= 13, f"needs Pillow >= 13, have {PIL.__version__}"
    rs = np.random.RandomState(1313)
    filters = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}
    # (src w, h) -> (dst w, h): vertical-first and horizontal-first cases.
    specs = [
        ((150, 40), (154, 28)),  # vertical first: 12 > 2 * (-4)
        ((30, 45), (28, 14)),  # vertical first: 31 > 2 * 2
        ((45, 30), (14, 28)),  # horizontal first
        ((25, 25), (15, 15)),  # equal shrink: horizontal first
        ((20, 50), (10, 29)),  # 21 > 20: vertical first
        ((20, 50), (10, 30)),  # 20 > 20 is false: horizontal first
    ]
    tensors = {}
    for i, ((w, h), (ow, oh)) in enumerate(specs):
        y, x = np.mgrid[0:h, 0:w]
        src = np.stack([(x * 37 + y * 11) % 256, (x * x + 3 * y) % 256, (y * y + 5 * x) % 256], -1)
        src = np.clip(src + rs.randint(-40, 41, size=src.shape), 0, 255).astype(np.uint8)
        tensors[f"case{i}/src"] = src
        for name, f in filters.items():
            tensors[f"case{i}/{name}"] = np.ascontiguousarray(np.asarray(Image.fromarray(src, "RGB").resize((ow, oh), resample=f)))
    save_file(tensors, os.path.join(OUT, "pillow13_resample.safetensors"), metadata={"pillow": PIL.__version__})


if __name__ == "__main__":
    main()
