#!/usr/bin/env python3
"""Write the metric-parity golden file for package mmeb.

Random rankings with graded relevance (0..3) are scored by trec_eval, through
pytrec_eval-terrier driven by ir-measures (its pytrec_eval provider only).
The Go test (mmeb/metrics_parity_test.go) ranks the same runs and compares
its metrics to these values:

  hit@k              <-> Success@k
  precision@k        <-> P@k
  recall@k           <-> R@k
  ndcg_linear@k      <-> nDCG@k                 (gain = grade)
  ndcg_exponential@k <-> nDCG(gains={g: 2^g-1})@k
  mrr@k              <-> RR (uncut), zeroed when the first relevant rank > k
  map@k              <-> AP@k x R / min(R, k)   (trec_eval divides by R, the
                                                 reference by min(R, k))

Scores are distinct, so trec_eval's tie-breaking never comes into play.

Requires: ir-measures, pytrec-eval-terrier (see requirements.txt).
Usage: python scripts/mmeb/metric_golden.py [--out mmeb/testdata/metric_golden.json]
"""
import argparse
import json
import random

import ir_measures
from ir_measures import AP, P, R, RR, Success, nDCG

KS = (1, 5, 10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="mmeb/testdata/metric_golden.json")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--seed", type=int, default=20250101)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    qrels, run = {}, {}
    for q in range(args.queries):
        qid = f"q{q:03d}"
        ndocs = rng.randint(3, 24)
        docs = [f"d{rng.randrange(10**6):06d}" for _ in range(ndocs)]
        docs = list(dict.fromkeys(docs))
        # Between 1 and ~half of the docs relevant; some queries get more
        # relevant docs than k so that min(R, k) matters.
        nrel = rng.randint(1, max(1, len(docs) // 2 + (8 if q % 7 == 0 else 0)))
        nrel = min(nrel, len(docs))
        rel_docs = rng.sample(docs, nrel)
        qrels[qid] = {d: rng.randint(1, 3) for d in rel_docs}
        # A few judged-non-relevant docs, which must not count.
        for d in docs:
            if d not in qrels[qid] and rng.random() < 0.2:
                qrels[qid][d] = 0
        scores = rng.sample(range(10**6), len(docs))
        run[qid] = {d: s / 1e6 for d, s in zip(docs, scores)}

    exp_gains = {g: 2**g - 1 for g in range(4)}
    measures = []
    for k in KS:
        measures += [P @ k, R @ k, Success @ k, nDCG @ k, nDCG(gains=exp_gains) @ k, AP @ k]
    measures.append(RR)
    prov = ir_measures.pytrec_eval
    for m in measures:
        assert prov.supports(m), m
    ev = prov.evaluator(measures, qrels)
    per = {}
    for r in ev.iter_calc(run):
        per.setdefault(r.query_id, {})[str(r.measure)] = r.value
    agg = {str(m): v for m, v in ev.calc_aggregate(run).items()}

    def key(name):
        # ir-measures prints the gains it does not take as identity.
        if name.startswith("nDCG(gains="):
            return "nDCG_exp" + name[name.index(")") + 1:]
        return name

    out = {
        "tool": f"pytrec_eval-terrier via ir-measures {ir_measures.__version__} (provider pytrec_eval)",
        "note": "nDCG_exp = nDCG with gains {g: 2^g-1}; RR is uncut; AP@k divides by R",
        "queries": [
            {"id": q, "qrels": qrels[q], "run": run[q], "measures": {key(k): v for k, v in sorted(per[q].items())}}
            for q in sorted(qrels)
        ],
        "aggregate": {key(k): v for k, v in sorted(agg.items())},
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {args.out}: {len(qrels)} queries, measures {sorted(out['aggregate'])}")


if __name__ == "__main__":
    main()
