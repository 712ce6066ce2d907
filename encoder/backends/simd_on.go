//go:build goexperiment.simd

package backends

// simdBuild reports a build with GOEXPERIMENT=simd, which the Go backend's
// matrix products need to be fast.
const simdBuild = true
