package gradcache

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/vlm2vec/encoder"
)

// needDevices skips a test on backends with fewer devices (the Go backend
// has one), unless VLM2VEC_REQUIRE_DEVICES asks for that many: CI sets it
// for its XLA CPU run, where the test must not skip.
func needDevices(t *testing.T, have, need int) {
	t.Helper()
	if have >= need {
		return
	}
	msg := "backend has %d device(s), the test needs %d (run it on XLA CPU, which has 4)"
	if os.Getenv("VLM2VEC_REQUIRE_DEVICES") != "" {
		t.Fatalf(msg, have, need)
	}
	t.Skipf(msg, have, need)
}

var (
	queries8 = append(append([]encoder.Input{}, queries...),
		encoder.Input{Instruction: "Represent the given image.", ImagePath: filepath.Join(testdata, "images", "tall_40x260.png")},
		encoder.Input{Instruction: "Find an image for this caption.", Text: "a tall narrow tower"})
	targets8 = append(append([]encoder.Input{}, targets...),
		encoder.Input{Prompt: "<|image_1|>\nRepresent the given image.\n", ImagePath: filepath.Join(testdata, "images", "up_30x29.png")},
		encoder.Input{Prompt: "a tower"})
)

// TestDataParallelEqualsOneDevice: GradCache on 2 and 4 devices, each
// computing its rows of every chunk of a batch of 8, leaves the same loss,
// accumulated gradients and post-AdamW weights as one device running
// GradCache on the whole batch (1e-5 relative, the tolerance of
// TestEqualsFullBatch: only summation order differs).
func TestDataParallelEqualsOneDevice(t *testing.T) {
	ctx := context.Background()
	_, m := setup(t)
	needDevices(t, m.Backend().NumDevices(), 4)

	run := func(devices, chunk int) (lossV float64, grads, weights map[string][]float32) {
		enc, m := setup(t)
		gc, err := NewDataParallel(m, infoNCE, devices)
		if err != nil {
			t.Fatal(err)
		}
		if gc.Devices() != devices {
			t.Fatalf("Devices() = %d, want %d", gc.Devices(), devices)
		}
		q, tg := chunks(t, enc, queries8, chunk, 1), chunks(t, enc, targets8, chunk, 2)
		opt, err := NewOptimizer(gc, DefaultAdamW())
		if err != nil {
			t.Fatal(err)
		}
		if lossV, err = gc.Accumulate(ctx, q, tg); err != nil {
			t.Fatal(err)
		}
		if grads, err = gc.Gradients(); err != nil {
			t.Fatal(err)
		}
		if _, err := opt.Apply(1e-3); err != nil {
			t.Fatal(err)
		}
		a, err := m.Adapter()
		if err != nil {
			t.Fatal(err)
		}
		weights = map[string][]float32{}
		for mod, l := range a.Layers {
			weights[mod+".A"], weights[mod+".B"], weights[mod+".m"] = l.A, l.B, l.Magnitude
		}
		return lossV, grads, weights
	}

	refLoss, refGrads, refWeights := run(1, 3)
	for _, c := range [][2]int{{2, 2}, {2, 4}, {4, 4}, {4, 8}} {
		devices := c[0]
		l, grads, weights := run(devices, c[1])
		worst, name := relDiff(grads, refGrads)
		var moved float64
		for k, w := range weights {
			for i, v := range w {
				moved = math.Max(moved, math.Abs(float64(v-refWeights[k][i])))
			}
		}
		t.Logf("%d devices, chunks of %d: loss %.6f (one device %.6f), worst gradient rel diff %.2g (%s), max |weight diff| after AdamW %.2g",
			devices, c[1], l, refLoss, worst, name, moved)
		if math.Abs(l-refLoss) > 1e-5*math.Abs(refLoss) {
			t.Errorf("%d devices: loss %v, one device %v", devices, l, refLoss)
		}
		if worst > 1e-5 {
			t.Errorf("%d devices: gradient of %s differs by %.3g relative", devices, name, worst)
		}
		// As in TestStepEqualsFullBatchStep, against the learning rate
		// (1e-3): Adam divides each gradient element by its own magnitude,
		// so elements with near-zero gradient turn 1e-7 rounding into up to
		// ~1e-5 of movement; 2% of one step is still far below a step.
		if moved > 2e-5 {
			t.Errorf("%d devices: weights after one step differ by %.3g", devices, moved)
		}
	}
}

// TestDataParallelErrors: asking for more devices than the backend has, or
// chunks whose rows do not split over the devices, are errors that say why.
func TestDataParallelErrors(t *testing.T) {
	ctx := context.Background()
	enc, m := setup(t)
	have := m.Backend().NumDevices()
	if _, err := NewDataParallel(m, infoNCE, have+1); err == nil || !strings.Contains(err.Error(), "devices") {
		t.Errorf("%d devices on a backend with %d: err = %v", have+1, have, err)
	}
	if _, err := NewDataParallel(m, infoNCE, 0); err == nil {
		t.Error("0 devices: no error")
	}
	if gc, err := NewDataParallel(m, infoNCE, 1); err != nil || gc.Devices() != 1 {
		t.Errorf("1 device: %v", err)
	}
	needDevices(t, have, 2)
	gc, err := NewDataParallel(m, infoNCE, 2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = gc.Accumulate(ctx, chunks(t, enc, queries, 3, 1), chunks(t, enc, targets, 2, 2))
	if err == nil || !strings.Contains(err.Error(), "does not split") {
		t.Errorf("chunks of 3 rows on 2 devices: err = %v", err)
	}
	if _, err := gc.FullBatch(ctx, chunks(t, enc, queries, 2, 1), chunks(t, enc, targets, 2, 2)); err == nil {
		t.Error("FullBatch on a data-parallel GradCache: no error")
	}
}
