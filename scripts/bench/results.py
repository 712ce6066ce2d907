"""Reading a results directory of scripts/bench/run.sh (stdlib only),
shared by report.py and report_families.py: raw files, rounds, and each
side's fastest round."""

import os

from parse import go_benches, last_json


class Results:
    def __init__(self, res):
        self.res = res

    def read(self, name, default=None):
        p = os.path.join(self.res, name)
        if not os.path.exists(p):
            return default
        with open(p) as f:
            return f.read()

    def rounds(self, name):
        """NAME and its later rounds (NAME with .2, .3, ... before the extension)."""
        stem, ext = name.rsplit(".", 1)
        out, r = [name], 2
        while os.path.exists(os.path.join(self.res, f"{stem}.{r}.{ext}")):
            out.append(f"{stem}.{r}.{ext}")
            r += 1
        return out

    def read_json_one(self, name):
        return last_json(self.read(name) or "")

    def read_json(self, name):
        """The JSON result of NAME, or of its fastest round for timing results."""
        found = [j for j in (self.read_json_one(n) for n in self.rounds(name)) if j]
        if not found:
            return None
        key = next((k for k in ("s_per_batch_mean", "s_per_step_mean") if k in found[0]), None)
        return min(found, key=lambda j: j.get(key, 0)) if key else found[0]

    def go_bench_one(self, name):
        """The first benchmark result of a file: {unit: value}; None if it failed or skipped."""
        s = self.read(name)
        if not s or "--- FAIL" in s:
            return None
        found = go_benches(s)
        return next(iter(found.values())) if found else None

    def go_bench(self, name):
        """The fastest round's benchmark result: {unit: value} (see ROUNDS in run.sh)."""
        found = [b for b in (self.go_bench_one(n) for n in self.rounds(name)) if b]
        return min(found, key=lambda b: b["ns/op"]) if found else None


def compile_s(g, digits=2):
    """A warm-up call's time minus a timed call's: compilation."""
    if not g or g.get("first-call-s") is None:
        return "n/a"
    return f"{max(0.0, g['first-call-s'] - g['ns/op'] / 1e9):.{digits}f}"
