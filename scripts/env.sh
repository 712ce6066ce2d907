# Sourced by the repo's scripts: the toolchain and backend settings every
# build and test of this project needs.
export GOTOOLCHAIN=go1.27.3     # go.mod says go 1.27; fetched through the module proxy
export GOEXPERIMENT=simd        # the Go backend's matmul is ~20x faster with it
export GOMLX_BACKEND="${GOMLX_BACKEND:-go}"  # pure-Go backend: nothing to install
export GOMLX_NO_AUTO_INSTALL=1  # never try to download XLA plugins
