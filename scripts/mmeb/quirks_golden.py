#!/usr/bin/env python3
"""Write mmeb/testdata/quirks_golden.json for mmeb's quirks tests: what
CPython and numpy actually do in the two places the reference's scoring
depends on them.

- str hashes and list(set(labels)) orders for several PYTHONHASHSEED
  values (each case runs in a child interpreter with that seed);
- np.argsort(-scores) of float32 scores full of ties, with numpy's
  vectorised sorts switched off (NPY_DISABLE_CPU_FEATURES), i.e. the
  scalar introsort numpy runs on CPUs without AVX-512 / AVX2.

Needs CPython 3.11 or later (SipHash-1-3 str hashing) and numpy 1.26.4,
the reference's pin (scripts/mmeb/requirements-quirks.txt):

    python3 -m venv /tmp/q && /tmp/q/bin/pip install -r scripts/mmeb/requirements-quirks.txt
    /tmp/q/bin/python scripts/mmeb/quirks_golden.py
"""
import json
import os
import random
import subprocess
import sys

OUT = "mmeb/testdata/quirks_golden.json"
SIMD = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX2 FMA3 F16C AVX"


def child(code, seed, inp):
    env = dict(os.environ, PYTHONHASHSEED=str(seed), NPY_DISABLE_CPU_FEATURES=SIMD)
    r = subprocess.run([sys.executable, "-c", code], input=json.dumps(inp), capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout)


HASHES = "import json,sys; print(json.dumps([hash(s) for s in json.load(sys.stdin)]))"
SETS = "import json,sys; print(json.dumps([list(set(k)) for k in json.load(sys.stdin)]))"
ARGSORT = ("import json,sys,numpy as np; print(json.dumps([np.argsort(-np.array(x, dtype=np.float32)).tolist() "
           "for x in json.load(sys.stdin)]))")


def main():
    rng = random.Random(7)
    alphabet = "abcXYZ019-_.é✓€😀 "
    strings = ["", "a", "abc", "é", "✓x", "😀", "1234567", "12345678", "123456789", "docs/page_0001.png"]
    strings += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(40)]
    label_sets = [[f"doc{rng.randint(0, 60)}" for _ in range(rng.randint(1, 30))] for _ in range(30)]
    label_sets += [["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(1, 80))]
                   for _ in range(10)]
    label_sets.append([f"c{i}" for i in range(400)])  # several resizes
    seeds = [0, 1, 42, 12345, 4294967295]
    out = {"strings": strings, "hashes": {}, "label_sets": label_sets, "set_orders": {}}
    for seed in seeds:
        out["hashes"][str(seed)] = child(HASHES, seed, strings)
        out["set_orders"][str(seed)] = child(SETS, seed, label_sets)
    scores = []
    for n in [1, 2, 5, 16, 17, 18, 40, 100, 257, 1000]:
        for levels in [1, 2, 3, 8]:
            scores.append([rng.randint(0, levels - 1) / 4 for _ in range(n)])
    scores.append([float("nan"), 1.0, 0.5, 1.0, float("nan")] * 10)
    scores.append([0.0] * 1500)  # all equal: deep partitions
    out["scores"] = [[x if x == x else "NaN" for x in s] for s in scores]
    out["argsort"] = child(ARGSORT, 0, scores)
    with open(OUT, "w") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
