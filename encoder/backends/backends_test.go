package backends

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
)

func TestResolve(t *testing.T) {
	t.Setenv(Env, "")
	if got := Resolve(""); got != Default {
		t.Errorf("Resolve(\"\") = %q, want %q", got, Default)
	}
	t.Setenv(Env, "xla:cpu")
	if got := Resolve(""); got != "xla:cpu" {
		t.Errorf("Resolve(\"\") with $%s = %q", Env, got)
	}
	if got := Resolve("go"); got != "go" {
		t.Errorf("an explicit config must win over $%s, got %q", Env, got)
	}
	for cfg, want := range map[string]bool{"go": false, "xla:cpu": true, "xla": true, "stablehlo:cuda": true, "xla:/p/pjrt_c_api_cpu_plugin.so": true} {
		if IsXLA(cfg) != want {
			t.Errorf("IsXLA(%q) = %v", cfg, !want)
		}
	}
}

func TestGo(t *testing.T) {
	b, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	// The worker pool's limit is lifted (see goparallel.go); the backend's
	// description reports its setting.
	if d := b.Description(); !strings.Contains(d, "parallelism=-1") {
		t.Errorf("Go backend not tuned: %q", d)
	}
	// An explicit setting wins.
	b2, err := New("go:parallelism=3")
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Finalize()
	if d := b2.Description(); !strings.Contains(d, "parallelism=3") {
		t.Errorf("explicit parallelism overridden: %q", d)
	}
}

// A plugin that is not there is an error naming the install script, and
// nothing is downloaded (the auto-installer is not linked in).
func TestXLAMissingPlugin(t *testing.T) {
	for _, cfg := range []string{"xla:nosuchplugin", "xla:" + filepath.Join(t.TempDir(), "pjrt_c_api_cpu_plugin.so")} {
		_, err := New(cfg)
		if err == nil {
			t.Fatalf("New(%q) succeeded", cfg)
		}
		if want := "scripts/install_xla_cpu.sh"; XLACompiled() && !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q): error does not mention %s: %v", cfg, want, err)
		}
		t.Logf("New(%q): %v", cfg, err)
	}
}

// installedPlugin is the CPU plugin scripts/install_xla_cpu.sh installs, if
// it is there.
func installedPlugin(t *testing.T) string {
	p, err := filepath.Abs("../../.cache/xla/pjrt_c_api_cpu_plugin.so")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil || !XLACompiled() {
		t.Skip("no XLA CPU plugin (run scripts/install_xla_cpu.sh) or XLA not compiled in")
	}
	return p
}

// The XLA CPU backend and the Go backend agree on a small matmul + softmax.
func TestXLAMatchesGo(t *testing.T) {
	plugin := installedPlugin(t)
	xb, err := New("xla:" + plugin)
	if err != nil {
		t.Fatal(err)
	}
	defer xb.Finalize()
	t.Log(xb.Description())
	gb, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer gb.Finalize()
	x := [][]float32{{1, 2, 3}, {-1, 0.5, 2}}
	w := [][]float32{{0.1, -0.2}, {0.3, 0.4}, {-0.5, 0.6}}
	run := func(b compute.Backend) [][]float32 {
		exec, err := NewExec(b, func(x, w *Node) *Node { return Softmax(MatMul(x, w), -1) })
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(x, w)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Value().([][]float32)
	}
	got, want := run(xb), run(gb)
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(float64(got[i][j] - want[i][j])); d > 1e-6 {
				t.Errorf("[%d][%d]: xla %g, go %g", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestSIMDBuildTag: the build-tag switch behind the no-SIMD warning sees
// this build's GOEXPERIMENT (scripts/env.sh sets simd).
func TestSIMDBuildTag(t *testing.T) {
	want := strings.Contains(os.Getenv("GOEXPERIMENT"), "simd")
	if os.Getenv("GOEXPERIMENT") == "" {
		t.Log("GOEXPERIMENT unset in the environment: checking the tag is off")
	}
	if simdBuild != want {
		t.Errorf("simdBuild %v, GOEXPERIMENT=%q", simdBuild, os.Getenv("GOEXPERIMENT"))
	}
}
