//go:build !goexperiment.simd

package backends

const simdBuild = false
