"""Parsing of benchmark outputs, shared by the CPU and GPU reports."""

import json
import re


def go_benches(text):
    """{benchmark name without the -GOMAXPROCS suffix: {unit: value, "iters": N}}
    for every result line of `go test -bench` output, in order."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) > 3 and f[0].startswith("Benchmark") and "ns/op" in line:
            vals = {"iters": int(f[1])}
            for i in range(2, len(f) - 1, 2):
                try:
                    vals[f[i + 1]] = float(f[i])
                except ValueError:
                    pass
            out[re.sub(r"-\d+$", "", f[0])] = vals
    return out


def last_json(text):
    """The last line of text that parses as a JSON object, or None."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None
