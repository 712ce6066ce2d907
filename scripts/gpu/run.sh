#!/usr/bin/env bash
# The GPU checks of docs/BENCHMARKS.md, in one run of under 8 minutes on an
# H100/H200 machine. Prepare on a Go machine with scripts/gpu/build.sh and
# carry build/gpu; then, from the repository root on the GPU machine:
#
#   bash scripts/gpu/run.sh        # results in $OUT (default build/gpu/results)
#
# 1. parity of the XLA CUDA path against the committed goldens, f32 and bf16
#    (the same tests CI runs on the CPU backends; in bf16 the decoder runs
#    cuDNN flash attention, which only this run exercises);
# 2. embedding throughput at full Qwen2-VL-2B depth and widths (random
#    weights, tiny vocabulary), Go on xla:cuda vs PyTorch + transformers on
#    the same GPU, same inputs and batch;
# 3. GradCache train-step time and peak GPU memory over growing batches at a
#    fixed chunk, Go vs PyTorch;
# 4. RESULTS.md (scripts/gpu/report.py): the tables, with MFU.
# Each step has its own timeout so one failure does not eat the budget.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/build/gpu/results}
PY=${PYTHON:-python3}
BIN=$ROOT/build/gpu
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
for gz in "$BIN"/*.test.gz; do
  [ -e "$gz" ] && gunzip -kf "$gz" && chmod +x "${gz%.gz}"
done

# jax's CUDA plugin; XLA finds ptxas & co. through the pip-installed NVIDIA tree.
SP=$($PY -c 'import site; print(site.getsitepackages()[0])')
PLUGIN=$(ls "$SP"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | head -1)
if [ -z "$PLUGIN" ]; then echo "no jax CUDA PJRT plugin under $SP/jax_plugins"; exit 1; fi
export GOMLX_BACKEND="xla:$PLUGIN" GOMLX_NO_AUTO_INSTALL=1
CUDA_DIR=$(ls -d "$SP"/nvidia/cu1* 2>/dev/null | head -1)
[ -n "$CUDA_DIR" ] && export XLA_FLAGS="--xla_gpu_cuda_data_dir=$CUDA_DIR"
echo "backend: $GOMLX_BACKEND ${XLA_FLAGS:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"

# 1. Parity (f32 and bf16 cases of the golden set, adapters, end to end).
(cd encoder/qwen2vl && timeout 120 "$BIN/qwen2vl.test" -test.run 'TestMatchesTransformers|TestUnmergedAdapterGraph|TestFusedAttention' -test.v) > "$OUT/parity_qwen2vl.txt" 2>&1
echo "parity qwen2vl: $(tail -1 "$OUT/parity_qwen2vl.txt")"
(cd encoder && timeout 120 "$BIN/encoder.test" -test.run 'TestEndToEndMatchesTransformers|TestGoTrainedAdapterInPEFT' -test.v) > "$OUT/parity_encoder.txt" 2>&1
echo "parity encoder: $(tail -1 "$OUT/parity_encoder.txt")"

# 2. Embedding throughput at full 2B size.
export VLM2VEC_BENCH_DIR=$ROOT/.cache/bench
[ -f "$VLM2VEC_BENCH_DIR/2b/config.json" ] || timeout 150 $PY scripts/bench/make_checkpoints.py --out "$VLM2VEC_BENCH_DIR" --only 2b
(cd encoder && timeout 150 "$BIN/encoder.test" -test.run '^$' -test.bench 'BenchmarkEmbed/2b/' -test.benchtime 5x) > "$OUT/embed_go.txt" 2>&1
grep Benchmark "$OUT/embed_go.txt"
for kind in text image; do
  BENCH_DEVICE=cuda BENCH_ATTN=sdpa timeout 90 $PY scripts/bench/bench_torch.py embed --ckpt "$VLM2VEC_BENCH_DIR/2b" \
    --kind $kind --dtype bf16 --iters 5 > "$OUT/embed_torch_$kind.json" 2>"$OUT/embed_torch_$kind.err"
  cat "$OUT/embed_torch_$kind.json"
done

# 3. GradCache step time and peak GPU memory over batch sizes at chunk 8.
mem() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; }
for batch in 16 64 256; do
  ( while sleep 0.2; do mem; done ) > "$OUT/mem_$batch.txt" & sampler=$!
  (cd gradcache && VLM2VEC_BENCH_STEP_CKPT=2b timeout 100 "$BIN/gradcache.test" -test.run '^$' -test.bench "BenchmarkGradCacheStep/gradcache/batch=$batch\$" -test.benchtime 2x) > "$OUT/step_go_$batch.txt" 2>&1
  kill $sampler 2>/dev/null
  echo "batch $batch: $(grep Benchmark "$OUT/step_go_$batch.txt" | head -1) peak MiB $(sort -n "$OUT/mem_$batch.txt" | tail -1)"
done
# The same step in PyTorch (same LoRA, chunk, inputs; dropout RNG replayed per chunk).
for batch in 16 64; do
  BENCH_DEVICE=cuda BENCH_ATTN=sdpa timeout 90 $PY scripts/bench/bench_torch.py step --ckpt "$VLM2VEC_BENCH_DIR/2b" \
    --batch $batch --mode gradcache --iters 2 > "$OUT/step_torch_$batch.json" 2>"$OUT/step_torch_$batch.err"
  echo "torch batch $batch: $(tail -1 "$OUT/step_torch_$batch.json")"
done

$PY scripts/gpu/report.py "$OUT" "$VLM2VEC_BENCH_DIR/2b/config.json" > "$OUT/RESULTS.md" && cat "$OUT/RESULTS.md"
echo "results in $OUT"
