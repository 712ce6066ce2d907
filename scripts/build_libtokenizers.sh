#!/usr/bin/env bash
# Builds libtokenizers.a (Hugging Face's Rust tokenizers behind a C ABI) from
# the Rust source that ships inside the Go module github.com/daulet/tokenizers,
# at the exact version go.mod requires, for the "tokenizers_native" build tag.
#
# Usage:
#   bash scripts/build_libtokenizers.sh
#   export CGO_LDFLAGS="-L$PWD/.cache/lib"
#   go test -tags tokenizers_native ./encoder/tokenizer/
#
# Output: .cache/lib/libtokenizers.a. The last line on stdout is
# CGO_LDFLAGS=-L<repo>/.cache/lib; everything else goes to stderr.
#
# Idempotent: the build is skipped when the library exists and the recorded
# source hash still matches. Cargo's build tree lives in .cache/cargo-target
# (cache it in CI to make a rebuild incremental).
#
# Needs: Go, a Rust toolchain (cargo; tested with rustup stable 1.95), a
# C compiler (the onig crate compiles Oniguruma), and access to crates.io.
#
# Two patches to the module's Cargo.toml:
#
# - tiktoken-rs comes from a git branch (github.com/steved/tiktoken-rs,
#   "bump-fancy-regex", version 0.8.0, a version crates.io never published).
#   It is pointed at crates.io's 0.9.1, the newest release with the API the
#   binding's src/lib.rs uses (CoreBPE::new over rustc-hash 1.x maps,
#   encode(&str, &HashSet<&str>), decode(Vec<Rank>)); 0.10 changed decode to
#   take a slice and 0.12 moved to rustc-hash 2. It serves only the binding's
#   tiktoken loader, never a tokenizer.json.
#
# - Hugging Face's tokenizers crate goes from the locked 0.22.0 to
#   $HF_TOKENIZERS_VERSION (default 0.23.2), the release that matches the
#   reference the golden files come from (PyPI tokenizers 0.23.x). 0.22.0
#   decodes added tokens marked "normalized" differently (56 golden cases of
#   the phi3-style file) and loads big files far slower. The binding's
#   sources build unchanged against it, and the link-time version symbol
#   comes from the binding, not from this crate. HF_TOKENIZERS_VERSION=locked
#   keeps the module's Cargo.lock choice.
set -euo pipefail

MODULE=github.com/daulet/tokenizers
TIKTOKEN_RS_VERSION=0.9.1
HF_TOKENIZERS_VERSION=${HF_TOKENIZERS_VERSION:-0.23.2}

log() { printf 'build_libtokenizers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
export GOFLAGS=${GOFLAGS:-}

command -v go >/dev/null || die "go not found"
if ! command -v cargo >/dev/null; then
	if [ -x "$HOME/.cargo/bin/cargo" ]; then
		export PATH="$HOME/.cargo/bin:$PATH"
	else
		die "cargo not found (install Rust with rustup: https://rustup.rs)"
	fi
fi

# The version go.mod requires, and the module's directory in the module cache.
VERSION=$(go list -m -f '{{.Version}}' "$MODULE") || die "$MODULE is not in go.mod"
MODDIR=$(go mod download -json "$MODULE@$VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -n "$MODDIR" ] && [ -f "$MODDIR/Cargo.toml" ] && [ -d "$MODDIR/src" ] ||
	die "no Rust source in the module cache for $MODULE@$VERSION (got '$MODDIR')"

# The symbol the Go side references at link time, e.g. tokenizers_version_1_23_0.
VERSION_SYMBOL=$(sed -n 's/^extern void \(tokenizers_version_[0-9_]*\)(void);.*/\1/p' \
	"$MODDIR/tokenizer.go" | head -n 1)
[ -n "$VERSION_SYMBOL" ] || die "cannot find the version symbol in $MODDIR/tokenizer.go"

CACHE="$ROOT/.cache"
SRC="$CACHE/libtokenizers-src"
LIBDIR="$CACHE/lib"
LIB="$LIBDIR/libtokenizers.a"
STAMP="$LIBDIR/libtokenizers.stamp"
export CARGO_TARGET_DIR="$CACHE/cargo-target"

# Hash of everything that determines the library: the module version, its
# Rust sources, and the patch applied here.
HASH=$(
	{
		echo "$MODULE@$VERSION tiktoken-rs=$TIKTOKEN_RS_VERSION tokenizers=$HF_TOKENIZERS_VERSION"
		cd "$MODDIR"
		for p in Cargo.toml Cargo.lock src benches; do
			if [ -e "$p" ]; then find "$p" -type f; fi
		done | LC_ALL=C sort | xargs sha256sum
	} | sha256sum | cut -d' ' -f1
)

print_flags() { printf 'CGO_LDFLAGS=-L%s\n' "$LIBDIR"; }

has_symbol() { nm "$LIB" 2>/dev/null | grep " T $VERSION_SYMBOL\$" >/dev/null; }

if [ -f "$LIB" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] && has_symbol; then
	log "up to date: $LIB ($MODULE@$VERSION, $VERSION_SYMBOL)"
	print_flags
	exit 0
fi

log "building libtokenizers.a from $MODULE@$VERSION"
log "source: $MODDIR"

# Copy the source out of the read-only module cache and patch it.
rm -rf "$SRC"
mkdir -p "$SRC" "$LIBDIR"
cp -R "$MODDIR/Cargo.toml" "$MODDIR/Cargo.lock" "$MODDIR/src" "$SRC/"
[ -d "$MODDIR/benches" ] && cp -R "$MODDIR/benches" "$SRC/" # Cargo.toml names a bench target
chmod -R u+w "$SRC"

grep -q '^tiktoken-rs = { *git *=' "$SRC/Cargo.toml" ||
	die "Cargo.toml no longer takes tiktoken-rs from git: review this script's patch"
sed -i "s|^tiktoken-rs = { *git *=.*\$|tiktoken-rs = \"=$TIKTOKEN_RS_VERSION\"|" "$SRC/Cargo.toml"
if grep -q 'git *=' "$SRC/Cargo.toml"; then
	die "Cargo.toml still has a git dependency after patching"
fi
log "patched Cargo.toml: tiktoken-rs = \"=$TIKTOKEN_RS_VERSION\" (crates.io)"
if [ "$HF_TOKENIZERS_VERSION" != locked ]; then
	grep -q '^tokenizers = ' "$SRC/Cargo.toml" ||
		die "Cargo.toml has no tokenizers dependency line: review this script's patch"
	sed -i "s|^tokenizers = .*\$|tokenizers = \"=$HF_TOKENIZERS_VERSION\"|" "$SRC/Cargo.toml"
	log "patched Cargo.toml: tokenizers = \"=$HF_TOKENIZERS_VERSION\" (locked: $(
		grep -A1 '^name = "tokenizers"$' "$MODDIR/Cargo.lock" | sed -n 's/^version = "\(0\.[^"]*\)"/\1/p'))"
fi

# Cargo re-resolves only the patched packages (and what they newly need);
# every other entry of the module's Cargo.lock stays as locked.
start=$(date +%s)
(cd "$SRC" && cargo build --release --lib) >&2 || die "cargo build failed"
log "cargo build took $(($(date +%s) - start)) s"

BUILT="$CARGO_TARGET_DIR/release/libtokenizers.a"
[ -f "$BUILT" ] || die "cargo did not produce $BUILT"
cp "$BUILT" "$LIB.tmp"
mv "$LIB.tmp" "$LIB"
has_symbol || die "$LIB lacks $VERSION_SYMBOL: it would not link with $MODULE@$VERSION"
echo "$HASH" >"$STAMP"
log "built $LIB ($(du -h "$LIB" | cut -f1), exports $VERSION_SYMBOL," \
	"tokenizers $(sed -n '/^name = "tokenizers"$/{n;s/^version = "\(0\.[^"]*\)"/\1/p}' "$SRC/Cargo.lock"))"
print_flags
