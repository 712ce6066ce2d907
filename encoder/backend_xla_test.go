package encoder

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/org/vlm2vec/encoder/backends"
	"github.com/org/vlm2vec/encoder/images"
)

// xlaPlugin is the CPU plugin scripts/install_xla_cpu.sh installs; the test
// skips without it.
func xlaPlugin(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", ".cache", "xla", "pjrt_c_api_cpu_plugin.so"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil || !backends.XLACompiled() {
		t.Skip("no XLA CPU plugin: run scripts/install_xla_cpu.sh (needs a cgo build)")
	}
	return p
}

// The same inputs embed to the same vectors on the Go backend and on XLA CPU,
// whatever GOMLX_BACKEND says. Logs one compile and the steady-state time of
// each.
func TestXLAEmbedMatchesGo(t *testing.T) {
	plugin := xlaPlugin(t)
	img, err := images.DecodeFile(filepath.Join(goldenDir(), "images", "photo_120x90.png"), images.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	inputs := []Input{
		{Instruction: "Represent the given image.", Image: img},
		{Instruction: "Find an image that matches the caption.", Text: "a red bus parked by the river"},
		{Text: "two cats on a sofa"},
		{Instruction: "Represent the given image with the question.", Text: "what colour is it?", Image: img},
	}
	ctx := context.Background()
	embed := func(config string) [][]float32 {
		enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithBackendConfig(config), WithBatchSize(len(inputs)))
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		start := time.Now()
		out, err := enc.Embed(ctx, inputs)
		if err != nil {
			t.Fatal(err)
		}
		first := time.Since(start)
		const reps = 5
		start = time.Now()
		for range reps {
			if _, err := enc.Embed(ctx, inputs); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: tiny-b, %d inputs: first call (with compile) %v, then %v per call",
			config, len(inputs), first.Round(time.Millisecond), (time.Since(start) / reps).Round(time.Microsecond))
		return out
	}
	want := embed("go")
	got := embed("xla:" + plugin)
	var maxDiff float64
	for r := range want {
		for i := range want[r] {
			maxDiff = max(maxDiff, math.Abs(float64(got[r][i]-want[r][i])))
		}
	}
	t.Logf("max |xla - go| over %d unit vectors of dim %d: %.2g", len(want), len(want[0]), maxDiff)
	if maxDiff > 1e-5 {
		t.Errorf("XLA CPU and Go embeddings differ by %.3g > 1e-5", maxDiff)
	}
}
