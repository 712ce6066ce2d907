#!/usr/bin/env bash
# Builds, on a machine with Go, the test binaries scripts/gpu/run.sh runs on
# a GPU machine (which has Python, PyTorch, transformers and jax's CUDA PJRT
# plugin, but no Go). Output: build/gpu/*.test.gz (gitignored; carry it):
# stripped and gzipped, about 21 MiB for the three, because what travels to
# the GPU machine is limited to 64 MiB; run.sh unpacks them there.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
mkdir -p build/gpu
for pkg in encoder encoder/qwen2vl gradcache; do
  name=$(basename "$pkg")
  CGO_ENABLED=1 go test -c -ldflags="-s -w" -o "build/gpu/$name.test" "./$pkg"
  gzip -f "build/gpu/$name.test"
done
ls -la build/gpu
