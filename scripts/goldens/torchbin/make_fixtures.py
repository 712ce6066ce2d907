#!/usr/bin/env python3
"""Fixtures for encoder/torchbin: torch.save files and the values they hold.

  * state_dict.bin: an OrderedDict of tensors in four dtypes, one a view
    with a storage offset, one non-contiguous (a transpose), one scalar,
    one empty; expected.json lists each tensor's dtype, shape and values;
  * the adapter of encoder/qwen2vl/testdata/tiny-a-dora re-saved as
    adapter_model.bin (the format of TIGER-Lab's adapter repositories)
    under testdata/tiny-a-dora-bin, with its adapter_config.json.

    /tmp/venvphi/bin/python scripts/goldens/torchbin/make_fixtures.py
(any Python with torch and safetensors; the goldens use torch 2.15.0)
"""
import collections
import json
import os
import shutil

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(REPO, "encoder", "torchbin", "testdata")


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = collections.OrderedDict()
    sd["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7
    sd["bf16"] = (torch.arange(4, dtype=torch.float32) - 1.5).to(torch.bfloat16).reshape(4, 1)
    sd["f16_view"] = (torch.arange(12, dtype=torch.float16) / 3).reshape(3, 4)[1:]
    sd["f32_transposed"] = (torch.arange(6, dtype=torch.float32).reshape(2, 3) * 1.25).t()
    sd["i64_scalar"] = torch.tensor(-42, dtype=torch.int64)
    sd["f64_empty"] = torch.zeros((0, 3), dtype=torch.float64)
    torch.save(sd, os.path.join(OUT, "state_dict.bin"))
    expected = {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                    "values": [float(x) for x in v.float().flatten().tolist()] if v.dtype != torch.int64 else v.flatten().tolist()}
                for k, v in sd.items()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    src = os.path.join(REPO, "encoder", "qwen2vl", "testdata", "tiny-a-dora")
    dst = os.path.join(OUT, "tiny-a-dora-bin")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    shutil.copy(os.path.join(src, "adapter_config.json"), dst)
    torch.save(collections.OrderedDict(load_file(os.path.join(src, "adapter_model.safetensors"))), os.path.join(dst, "adapter_model.bin"))
    print("fixtures in", OUT)


if __name__ == "__main__":
    main()
