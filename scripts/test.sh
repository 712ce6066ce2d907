#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the reference
# tokenizer files, builds the native tokenizer library and fetches the XLA
# CPU plugin (all cached under .cache/), then tests every package on the
# pure-Go backend, the tokenizer package again through the native (Rust)
# implementation, the concurrent packages under the race detector, every
# fuzz target for a few seconds, and the parity tests again on XLA CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

bash scripts/fetch_tokenizers.sh
bash scripts/build_libtokenizers.sh

export VLM2VEC_REQUIRE_TOKENIZERS=1  # the golden tests must not skip in CI

go vet ./...
go test -count=1 ./...

# The Beam transform is a nested module (so the core never pulls Beam in):
# vet and test it on its own, on the in-process Prism runner.
(cd beam && go vet ./... && go test -count=1 ./...)

CGO_LDFLAGS="-L$PWD/.cache/lib" go test -count=1 -tags tokenizers_native ./encoder/tokenizer/

# The race detector over the packages with concurrency. checkptr is off for
# the Go backend's module only: its SIMD matmul kernels turn uintptr
# arithmetic back into pointers, which checkptr (on under -race) rejects;
# see docs/reliability.md. Our own unsafe code stays checked.
go test -count=1 -race -gcflags='github.com/gomlx/compute/...=-d=checkptr=0' ./encoder/ ./gradcache/ ./mmeb/ ./cmd/...

# Fuzz targets, briefly, so their seed corpora keep passing new code.
bash scripts/fuzz.sh 5s

# The module builds for the other platforms users run it on (pure Go:
# no cgo, so no XLA there), and without GOEXPERIMENT=simd.
for target in windows/amd64 darwin/arm64 darwin/amd64; do
  CGO_ENABLED=0 GOOS=${target%/*} GOARCH=${target#*/} go build ./...
done
GOEXPERIMENT= go build ./...

# XLA CPU fast path: the PJRT CPU plugin from PyPI (cached in .cache/xla),
# parity tests rerun on it. Optimisation level 0 only shortens XLA's
# compile time (~3x); the default level passes the same tests. The plugin
# has 4 CPU devices, so the data-parallel tests must run, not skip.
bash scripts/install_xla_cpu.sh
VLM2VEC_REQUIRE_DEVICES=4 GOMLX_BACKEND=xla:cpu PJRT_PLUGIN_LIBRARY_PATH="$PWD/.cache/xla" XLA_FLAGS=--xla_backend_optimization_level=0 \
  go test -count=1 ./encoder/ ./encoder/backends/ ./encoder/layers/ ./encoder/qwen2vl/ ./gradcache/ ./loss/
