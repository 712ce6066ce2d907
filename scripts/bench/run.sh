#!/usr/bin/env bash
# Runs the Go benchmarks and their PyTorch counterparts in one invocation,
# alternating row by row so both see the same machine, and writes
# docs/BENCHMARKS.md. Raw outputs go to .cache/bench/results/.
#
#   PYTHON=/work/venv-goldens/bin/python bash scripts/bench/run.sh
#
# Environment:
#   PYTHON       Python with torch, transformers 4.52.3, peft, pillow
#                (default /work/venv-goldens/bin/python, else python3)
#   MAX_LOAD     wait until the 1-minute load average is at most this (0.7)
#   WAIT_S       ... for at most this many seconds, then run anyway and say so (1200)
#   EMBED_ITERS  timed iterations per embedding row (3)
#   ROUNDS       alternating rounds per row; each side's fastest is kept (2)
#   STEP_ITERS   timed steps per GradCache row (3)
#   BATCHES      GradCache batch sizes ("16 64 256")
#   CKPTS        embedding checkpoints ("small 2b-slice")
#   FAMILY_CKPTS model-family slices ("llava-slice phi3v-slice"; "" for none),
#                written by each family's golden generator into .cache/bench
#   VLM2VEC_SRC  a TIGER-AI-Lab/VLM2Vec checkout: the phi3v-slice rows run its
#                vendored Phi-3-V code (without it they are left out)
#   QWEN3_PYTHON Python with transformers 4.57.3 + qwen-vl-utils for the
#                qwen3vl-slice rows (scripts/goldens/qwen3vl/requirements.txt;
#                default $PYTHON)
#   SKIP_BF16=1  leave out the bf16 rows
#   SKIP_PROFILE=1  leave out the CPU profile
#   ONLY         row names to (re)run, keeping the other rows' results, e.g.
#                ONLY="embed_2b-slice_image_bf16 step_gradcache_16_gogc10_ballast profile"
#   OUT_MD       the report to write (docs/BENCHMARKS.md); a partial run
#                into empty results should write elsewhere
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source scripts/env.sh

PYTHON=${PYTHON:-/work/venv-goldens/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
MAX_LOAD=${MAX_LOAD:-0.7}
WAIT_S=${WAIT_S:-1200}
EMBED_ITERS=${EMBED_ITERS:-3}
STEP_ITERS=${STEP_ITERS:-3}
BATCHES=${BATCHES:-16 64 256}
BENCH=$ROOT/.cache/bench
RES=$BENCH/results
export VLM2VEC_BENCH_DIR=$BENCH
mkdir -p "$RES"
# One run at a time: a second invocation would wipe this one's results.
exec 9>"$BENCH/.run.lock"
if ! flock -n 9; then
  echo "run.sh: another run is using $RES (lock $BENCH/.run.lock held); not starting" >&2
  exit 1
fi
ONLY=${ONLY:-}
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
if [ -z "$ONLY" ]; then
  rm -f "$RES"/*.go.txt "$RES"/*.torch.json "$RES"/*.torch.err "$RES"/*.load "$RES"/pprof_top.txt
fi

if [ ! -f "$BENCH/2b-slice/config.json" ] || [ ! -f "$BENCH/small/config.json" ] || [ ! -f "$BENCH/images/img7.png" ]; then
  "$PYTHON" scripts/bench/make_checkpoints.py --out "$BENCH"
fi

FAMILY_CKPTS=${FAMILY_CKPTS-llava-slice phi3v-slice qwen3vl-slice}
QWEN3_PYTHON=${QWEN3_PYTHON:-$PYTHON}
if [[ " $FAMILY_CKPTS " == *" phi3v-slice "* ]] && [ -z "${VLM2VEC_SRC:-}" ]; then
  echo "run.sh: VLM2VEC_SRC unset: leaving out the phi3v-slice rows" >&2
  FAMILY_CKPTS=${FAMILY_CKPTS//phi3v-slice/}
fi
if [[ " $FAMILY_CKPTS " == *" llava-slice "* ]] && [ ! -f "$BENCH/llava-slice/config.json" ]; then
  "$PYTHON" scripts/goldens/llavanext/make_goldens.py --bench-out "$BENCH"
fi
if [[ " $FAMILY_CKPTS " == *" qwen3vl-slice "* ]] && [ ! -f "$BENCH/qwen3vl-slice/config.json" ]; then
  "$QWEN3_PYTHON" scripts/goldens/qwen3vl/make_goldens.py --bench-out "$BENCH"
fi
if [[ " $FAMILY_CKPTS " == *" phi3v-slice "* ]] && [ ! -f "$BENCH/phi3v-slice/config.json" ]; then
  "$PYTHON" scripts/goldens/phi3v/make_goldens.py --vlm2vec "$VLM2VEC_SRC" --bench-out "$BENCH"
fi

echo "building test binaries" >&2
go test -c -o "$RES/encoder.test" ./encoder
go test -c -o "$RES/gradcache.test" ./gradcache
# The same binaries run on XLA's CPU plugin (default optimisation level).
bash scripts/install_xla_cpu.sh >/dev/null
XLA_ENV="GOMLX_BACKEND=xla:cpu PJRT_PLUGIN_LIBRARY_PATH=$ROOT/.cache/xla"

load1() { cut -d' ' -f1 /proc/loadavg; }

# Wait for a quiet machine (other jobs share these cores).
quiet=false
start=$(date +%s)
while :; do
  if awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN{exit !(l <= m)}'; then quiet=true; break; fi
  if [ $(( $(date +%s) - start )) -ge "$WAIT_S" ]; then break; fi
  echo "load $(load1) > $MAX_LOAD, waiting" >&2
  sleep 30
done

params() {
  "$PYTHON" - "$1" <<'EOF'
import json, struct, sys, os
d = sys.argv[1]
n = 0
with open(os.path.join(d, "model.safetensors"), "rb") as f:
    h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
for k, v in h.items():
    if k != "__metadata__":
        p = 1
        for s in v["shape"]:
            p *= s
        n += p
print(f"{n / 1e6:.1f}M")
EOF
}

cat > "$RES/machine.json" <<EOF
{"cpu": "$(lscpu | sed -n 's/^Model name: *//p' | head -1)",
 "cores": "$(nproc)",
 "flags": "$(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ' | sed 's/ $//')",
 "mem": "$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)",
 "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
 "load_start": "$(cat /proc/loadavg | cut -d' ' -f1-3)",
 "max_load": "$MAX_LOAD", "wait_s": "$WAIT_S", "quiet": $quiet,
 "go": "$(go version | cut -d' ' -f3-)", "goexperiment": "$GOEXPERIMENT", "backend": "$GOMLX_BACKEND",
 "params_small": "$(params "$BENCH/small")", "params_2b-slice": "$(params "$BENCH/2b-slice")"}
EOF
"$PYTHON" scripts/bench/bench_torch.py info > "$RES/torch_info.json"

# Busy CPU seconds of this VM so far (user+nice+system+irq+softirq).
busy_s() { awk '/^cpu /{printf "%.2f", ($2+$3+$4+$7+$8)/100}' /proc/stat; }
# CPU seconds the hypervisor gave to other guests while this VM wanted them.
steal_s() { awk '/^cpu /{printf "%.2f", $9/100}' /proc/stat; }

# run NAME CMD...: one measurement. Appends to NAME.load: the 1-minute load
# before, the 1-minute load after, the average number of cores that other
# processes kept busy meanwhile (machine busy time minus this command's own
# CPU time, over its wall time), and the average number of cores stolen by
# the hypervisor (other guests of the host) meanwhile.
run() {
  local name=$1; shift
  local l0 b0 b1 s0 s1 t
  l0=$(load1); b0=$(busy_s); s0=$(steal_s)
  echo "== $name" >&2
  /usr/bin/time -f "%e %U %S" -o "$RES/.time" "$@" || echo "FAILED: $*" >&2
  b1=$(busy_s); s1=$(steal_s)
  t=$(cat "$RES/.time" | tail -1)
  echo "$l0 $(load1) $(echo "$b0 $b1 $t $s0 $s1" | awk '{o=($2-$1)-($4+$5); if (o<0) o=0; st=$7-$6; if ($3>0) printf "%.2f %.2f", o/$3, st/$3; else print "0 0"}')" >> "$RES/$name.load"
}

# Each row runs ROUNDS times, alternating the sides (Go, PyTorch, XLA, Go, ...),
# and the report keeps each side's fastest round: this VM's speed drifts by
# up to 2x for minutes at a time (shared host) without any process of ours
# or steal time showing it, and alternation gives every side the same chance.
ROUNDS=${ROUNDS:-2}
sfx() { [ "$1" -eq 1 ] || printf '.%s' "$1"; }  # round 1 keeps the plain file names

embed_row() { # ckpt kind dtype
  local ck=$1 kind=$2 dt=$3 base="embed_$1_$2_$3" r s rows="" py=$PYTHON
  want "$base" || return 0
  [ "$ck" = qwen3vl-slice ] && py=$QWEN3_PYTHON
  # The family slices embed 2 images per batch (familyImageRows in encoder/bench_test.go).
  [[ " $FAMILY_CKPTS " == *" $ck "* ]] && [ "$kind" = image ] && rows="--rows 2"
  rm -f "$RES/$base".*
  for r in $(seq "$ROUNDS"); do
    s=$(sfx "$r")
    run "$base" bash -c "cd encoder && '$RES/encoder.test' -test.run '^\$' -test.bench '^BenchmarkEmbed/$ck/$kind/$dt\$' -test.benchtime ${EMBED_ITERS}x > '$RES/$base.go$s.txt' 2>&1"
    run "$base" bash -c "'$py' scripts/bench/bench_torch.py embed --ckpt '$BENCH/$ck' --kind $kind --dtype $dt --iters $EMBED_ITERS $rows > '$RES/$base.torch$s.json' 2> '$RES/$base.torch$s.err'"
    run "$base" bash -c "cd encoder && $XLA_ENV '$RES/encoder.test' -test.run '^\$' -test.bench '^BenchmarkEmbed/$ck/$kind/$dt\$' -test.benchtime ${EMBED_ITERS}x > '$RES/$base.xla$s.txt' 2>&1"
  done
}

step_row() { # mode batch [gogc [ballast MB]]; STEP_CKPT picks the checkpoint (small)
  local ck=${STEP_CKPT:-small}
  local mode=$1 b=$2 gogc=${3:-} ballast=${4:-} base="step_${STEP_CKPT:+${STEP_CKPT}_}$1_$2${3:+_gogc$3}${4:+_ballast}" r s rounds=1
  want "$base" || return 0
  rm -f "$RES/$base".*
  # The memory-control rows (GOGC, ballast) are Go only and run once.
  [ -z "$gogc" ] && [ -z "$ballast" ] && rounds=$ROUNDS
  for r in $(seq "$rounds"); do
    s=$(sfx "$r")
    run "$base" bash -c "cd gradcache && VLM2VEC_BENCH_STEP_CKPT=$ck ${gogc:+GOGC=$gogc} ${ballast:+VLM2VEC_BENCH_BALLAST_MB=$ballast} '$RES/gradcache.test' -test.run '^\$' -test.bench '^BenchmarkGradCacheStep/$mode/batch=$b\$' -test.benchtime ${STEP_ITERS}x > '$RES/$base.go$s.txt' 2>&1"
    if [ -z "$gogc" ] && [ -z "$ballast" ]; then
      run "$base" bash -c "'$PYTHON' scripts/bench/bench_torch.py step --ckpt '$BENCH/$ck' --batch $b --mode $mode --iters $STEP_ITERS > '$RES/$base.torch$s.json' 2> '$RES/$base.torch$s.err'"
      # XLA compiles the full-batch program with every chunk inlined: minutes
      # at batch 256, so that row is left out.
      if [ "$mode" = gradcache ] || [ "$b" -le 64 ]; then
        run "$base" bash -c "cd gradcache && VLM2VEC_BENCH_STEP_CKPT=$ck $XLA_ENV '$RES/gradcache.test' -test.run '^\$' -test.bench '^BenchmarkGradCacheStep/$mode/batch=$b\$' -test.benchtime ${STEP_ITERS}x > '$RES/$base.xla$s.txt' 2>&1"
      fi
    fi
  done
}

for ck in ${CKPTS:-small 2b-slice}; do
  for kind in text image; do
    embed_row "$ck" "$kind" f32
  done
done
for ck in $FAMILY_CKPTS; do
  for kind in text image; do
    embed_row "$ck" "$kind" f32
  done
done
if [ -z "${SKIP_BF16:-}" ] && [[ " ${CKPTS:-2b-slice} " == *" 2b-slice "* ]]; then
  for kind in text image; do
    embed_row 2b-slice "$kind" bf16
  done
fi

for b in $BATCHES; do
  step_row gradcache "$b"
  step_row fullbatch "$b"
done
first=$(echo $BATCHES | cut -d' ' -f1)
last=$(echo $BATCHES | awk '{print $NF}')
step_row gradcache "$first" 10
if [ "$last" != "$first" ]; then
  step_row gradcache "$last" 10
  # Control: the smallest batch with a ballast of live memory that gives it
  # the largest batch's resident heap before the step (its chunk inputs).
  base_mb() { sed -n 's/.*[[:space:]]\([0-9.]*\) base-live-MB.*/\1/p' "$RES/$1.go.txt" 2>/dev/null | head -1; }
  ballast=$(awk -v a="$(base_mb "step_gradcache_${last}_gogc10")" -v b="$(base_mb "step_gradcache_${first}_gogc10")" \
    'BEGIN{d=a-b; if (d<1) d=1; printf "%.0f", d}')
  step_row gradcache "$first" 10 "$ballast"
  step_row gradcache "$first" 100 "$ballast"
fi

# A train step at 2B widths (LoRA, GradCache, batch 16, chunk 8).
if [[ " ${CKPTS:-2b-slice} " == *" 2b-slice "* ]]; then
  STEP_CKPT=2b-slice step_row gradcache 16
fi

# Compilation: a stream of 64 varied inputs, programs compiled and their cost.
if want stream; then
  rm -f "$RES"/stream.*
  run stream bash -c "cd encoder && '$RES/encoder.test' -test.run '^\$' -test.bench '^BenchmarkEmbedStream\$' -test.benchtime 1x > '$RES/stream.go.txt' 2>&1"
  run stream bash -c "cd encoder && $XLA_ENV '$RES/encoder.test' -test.run '^\$' -test.bench '^BenchmarkEmbedStream\$' -test.benchtime 1x > '$RES/stream.xla.txt' 2>&1"
fi

# Streams of mixed inputs handed over whole, by 8 in order, or one by one,
# against PyTorch batching the same stream; and a long input's peak memory.
if want streams; then
  PYTHON="$PYTHON" ROUNDS="$ROUNDS" VLM2VEC_BENCH_DIR="$BENCH" bash scripts/bench/streams.sh "$RES"
fi

if [ -z "${SKIP_PROFILE:-}" ] && want profile; then
echo "== profile" >&2
(cd encoder && "$RES/encoder.test" -test.run '^$' -test.bench '^BenchmarkEmbed/2b-slice/image/f32$' -test.benchtime 2x \
  -test.cpuprofile "$RES/embed_2b_image.prof" > "$RES/profile.go.txt" 2>&1) || echo "profile run failed" >&2
go tool pprof -top -nodecount=400 "$RES/encoder.test" "$RES/embed_2b_image.prof" > "$RES/pprof_top.txt" 2>/dev/null || true
go tool pprof -top -cum -nodecount=400 "$RES/encoder.test" "$RES/embed_2b_image.prof" > "$RES/pprof_cum.txt" 2>/dev/null || true
(cd encoder && "$RES/encoder.test" -test.run '^$' -test.bench '^BenchmarkEmbed/small/image/f32$' -test.benchtime 10x \
  -test.cpuprofile "$RES/embed_small_image.prof" > "$RES/profile_small.go.txt" 2>&1) || echo "profile run failed" >&2
go tool pprof -top -cum -nodecount=400 "$RES/encoder.test" "$RES/embed_small_image.prof" > "$RES/pprof_cum_small.txt" 2>/dev/null || true
fi

# The families' page first: BENCHMARKS.md summarises its rows.
FAMILY_MD=${FAMILY_MD:-docs/BENCHMARKS-FAMILIES.md}
"$PYTHON" scripts/bench/report_families.py "$RES" "$FAMILY_MD"
echo "wrote $FAMILY_MD" >&2
OUT_MD=${OUT_MD:-docs/BENCHMARKS.md}
"$PYTHON" scripts/bench/report.py "$RES" "$OUT_MD" "$FAMILY_MD"
echo "wrote $OUT_MD (raw results in $RES)" >&2
