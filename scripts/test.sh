#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the reference
# tokenizer files and builds the native tokenizer library (both cached under
# .cache/), then tests every package on the pure-Go backend and the
# tokenizer package again through the native (Rust) implementation.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

bash scripts/fetch_tokenizers.sh
bash scripts/build_libtokenizers.sh

export VLM2VEC_REQUIRE_TOKENIZERS=1  # the golden tests must not skip in CI

go vet ./...
go test -count=1 ./...
CGO_LDFLAGS="-L$PWD/.cache/lib" go test -count=1 -tags tokenizers_native ./encoder/tokenizer/
