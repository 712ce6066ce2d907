#!/usr/bin/env bash
# Streams of mixed inputs, Go backend against PyTorch + transformers on the
# same 64 inputs (BenchmarkEmbedStreams and bench_torch.py stream), ROUNDS
# times alternating the sides; results in RES (default .cache/bench/results):
#   streams.go[.N].txt, streams.torch.<mode>[.N].json
# report.py's "Streams" section reads them. Called by run.sh; runs alone too:
#   PYTHON=/path/to/venv/bin/python bash scripts/bench/streams.sh [RES]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
RES=${1:-.cache/bench/results}
PYTHON=${PYTHON:-python3}
ROUNDS=${ROUNDS:-2}
BENCH=${VLM2VEC_BENCH_DIR:-$PWD/.cache/bench}
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
go test -c -o "$RES/streams.encoder.test" ./encoder/  # always rebuilt: a stale binary would time old code
rm -f "$RES"/streams.go* "$RES"/streams.torch.* "$RES"/streams.inputs.json
for r in $(seq "$ROUNDS"); do
  s=""; [ "$r" -eq 1 ] || s=".$r"
  (cd encoder && VLM2VEC_BENCH_DIR="$BENCH" VLM2VEC_BENCH_STREAM_OUT="$RES/streams.inputs.json" \
    "$RES/streams.encoder.test" -test.run '^$' -test.bench '^BenchmarkEmbedStreams$' -test.benchtime 3x -test.v > "$RES/streams.go$s.txt" 2>&1)
  for mode in all by8 single long; do
    OMP_NUM_THREADS=$(nproc) "$PYTHON" scripts/bench/bench_torch.py stream --ckpt "$BENCH/small" \
      --stream "$RES/streams.inputs.json" --mode $mode --iters 3 > "$RES/streams.torch.$mode$s.json"
  done
done
echo "streams: results in $RES" >&2
