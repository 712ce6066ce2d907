// Package testutil holds what the parity tests share: comparisons and the
// test backend.
package testutil

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/org/vlm2vec/encoder/backends"
)

// MaxRelErr is max |got - want| / max |want|: the relative error measure
// the parity tests bound (robust to entries near zero).
func MaxRelErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		num = math.Max(num, math.Abs(float64(got[i])-want[i]))
		den = math.Max(den, math.Abs(want[i]))
	}
	return num / den
}

// Cosine is the cosine similarity of a float32 and a float64 vector.
func Cosine(a []float32, b []float64) float64 {
	var ab, aa, bb float64
	for i := range b {
		ab += float64(a[i]) * b[i]
		aa += float64(a[i]) * float64(a[i])
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}

var (
	backendOnce sync.Once
	backend     compute.Backend
	backendErr  error
)

// Backend is the backend the tests run on: $GOMLX_BACKEND, else the pure-Go
// one (CI reruns the parity tests with GOMLX_BACKEND=xla:cpu). One per test
// process; a failure fails the calling test.
func Backend(t testing.TB) compute.Backend {
	t.Helper()
	backendOnce.Do(func() { backend, backendErr = backends.New("") })
	if backendErr != nil {
		t.Fatalf("backend: %v", backendErr)
	}
	return backend
}

// BenchDir is where scripts/bench/make_checkpoints.py writes the benchmark
// checkpoints and images: $VLM2VEC_BENCH_DIR, else .cache/bench at the
// repository root, seen from a package one directory below it.
func BenchDir() string {
	if d := os.Getenv("VLM2VEC_BENCH_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", ".cache", "bench")
}

// ProcStatusKB reads a "VmXXX:  123 kB" line of /proc/self/status (0 where
// there is none, e.g. off Linux). Benchmarks read peak memory from VmHWM
// after resetting it with ResetPeakRSS.
func ProcStatusKB(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line[len(field)+1:])
			if len(f) > 0 {
				v, _ := strconv.ParseUint(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// ResetPeakRSS collects garbage, returns freed memory to the OS and resets
// VmHWM to the current resident set (Linux >= 4.0); it returns that
// resident set in kB, the base a later VmHWM is compared with.
func ResetPeakRSS() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return ProcStatusKB("VmRSS")
}
