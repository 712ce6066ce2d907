#!/usr/bin/env bash
# Runs every fuzz target of the module for a while each (default 5s; pass
# a duration like 3m for a real campaign). A failure leaves its input under
# the package's testdata/fuzz/ for `go test` to replay.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
t=${1:-5s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $f ($t)" >&2
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" > /dev/null
  done
done
