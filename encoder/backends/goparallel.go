package backends

import (
	"log/slog"
	"reflect"
	"strings"

	"github.com/gomlx/compute"
)

// The Go backend runs independent ops of a program concurrently, and its
// matmul splits a large product over worker goroutines from a shared pool
// sized 2 x GOMAXPROCS. The op executors count against that pool, so on a
// few cores a matmul usually finds it full and runs on one core: measured
// on 2 cores, a 2B-wide batch ran at the speed of GOMAXPROCS=1. Lifting the
// pool's limit (parallelism=-1, the backend's own "unlimited" setting: each
// matmul then uses up to GOMAXPROCS workers) made the same batch 1.8x faster
// and a training step 1.9x faster, and no case measured got slower (see
// docs/backends.md).
//
// The backend's config string can set it ("go:parallelism=-1"), but that
// path prints a line to standard output, which would corrupt the output of
// programs that write results there. So the setting is applied directly,
// through the backend's exported Workers pool.

// unlimitedParallelism is the Go backend's "no limit" pool setting.
const unlimitedParallelism = -1

// tuneGo applies the default worker-pool setting to a Go backend created
// from config, unless config sets parallelism itself.
func tuneGo(b compute.Backend, config string) {
	name, opts, _ := strings.Cut(config, ":")
	if name != "go" || strings.Contains(opts, "parallelism=") {
		return
	}
	if !setGoParallelism(b, unlimitedParallelism) {
		slog.Debug("vlm2vec: could not set the Go backend's parallelism; it keeps its default", "backend", b.Description())
	}
}

// setGoParallelism calls b.Workers.SetMaxParallelism(n) on the Go backend
// (whose type lives in an internal package) and reports whether it could.
func setGoParallelism(b compute.Backend, n int) bool {
	v := reflect.ValueOf(b)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	w := v.Elem().FieldByName("Workers")
	if !w.IsValid() || w.Kind() != reflect.Pointer || w.IsNil() {
		return false
	}
	set := w.MethodByName("SetMaxParallelism")
	if !set.IsValid() || set.Type().NumIn() != 1 || set.Type().In(0).Kind() != reflect.Int {
		return false
	}
	set.Call([]reflect.Value{reflect.ValueOf(n)})
	return true
}
