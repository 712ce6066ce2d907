package gradcache

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/org/vlm2vec/encoder"
)

// fixedBatcher cycles over the test inputs with a position that it saves
// and restores, and seeds dropout from the step.
type fixedBatcher struct {
	t   *testing.T
	enc *encoder.Encoder
	pos int
}

func (b *fixedBatcher) Next(_ context.Context, step int) ([]Chunk, []Chunk, int, int, error) {
	rot := func(in []encoder.Input) []encoder.Input {
		out := make([]encoder.Input, 4)
		for i := range out {
			out[i] = in[(b.pos+i)%len(in)]
		}
		return out
	}
	q := chunks(b.t, b.enc, rot(queries), 3, uint32(step)*1000)
	tg := chunks(b.t, b.enc, rot(targets), 2, uint32(step)*1000+500)
	b.pos++
	return q, tg, 4, 0, nil
}

func (b *fixedBatcher) State() ([]byte, error) { return json.Marshal(b.pos) }
func (b *fixedBatcher) Restore(s []byte) error { return json.Unmarshal(s, &b.pos) }

func newTrainer(t *testing.T, dir string, steps int, loss LossFn) (*Trainer, func() map[string][]float32) {
	enc, m := setup(t)
	gc, err := New(m, loss)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := NewOptimizer(gc, DefaultAdamW())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(gc, opt, &fixedBatcher{t: t, enc: enc}, Config{
		MaxSteps: steps, LearningRate: 1e-3, WarmupSteps: 1, OutputDir: dir, SaveSteps: 1, SaveTotalLimit: 2, LogWriter: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	weights := func() map[string][]float32 {
		a, err := m.Adapter()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float32{}
		for mod, l := range a.Layers {
			out[mod+".A"], out[mod+".B"], out[mod+".m"] = l.A, l.B, l.Magnitude
		}
		return out
	}
	return tr, weights
}

// TestResumeIsBitExact: 4 steps in one go, and 2 steps then a fresh
// process-like restart that resumes to 4, end with identical weights and
// identical logged losses; an interrupted save (a temporary directory left
// by a kill) is ignored and cleaned up.
func TestResumeIsBitExact(t *testing.T) {
	ctx := context.Background()
	straightDir, resumedDir := t.TempDir(), t.TempDir()
	tr, w := newTrainer(t, straightDir, 4, infoNCE)
	recs, err := tr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := w()
	if len(recs) != 4 || recs[0].LR != 0 || recs[1].LR != 1e-3 {
		t.Fatalf("records %+v", recs)
	}

	tr, _ = newTrainer(t, resumedDir, 2, infoNCE)
	if _, err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// A save killed half-way leaves only a temporary directory.
	junk := filepath.Join(resumedDir, ".tmp-checkpoint-123")
	os.MkdirAll(junk, 0o755)
	os.WriteFile(filepath.Join(junk, "state.safetensors"), []byte("torn"), 0o644)

	tr, w2 := newTrainer(t, resumedDir, 4, infoNCE)
	recs2, err := tr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs2) != 2 || recs2[0].Step != 3 {
		t.Fatalf("resumed run did steps %+v", recs2)
	}
	got := w2()
	for k, v := range want {
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(got[k][i]) {
				t.Fatalf("%s[%d]: %v straight, %v resumed", k, i, v[i], got[k][i])
			}
		}
	}
	if recs2[1].Loss != recs[3].Loss {
		t.Errorf("step 4 loss %v resumed, %v straight", recs2[1].Loss, recs[3].Loss)
	}
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Errorf("interrupted save not cleaned up")
	}
	steps, _ := checkpoints(resumedDir)
	if len(steps) != 2 || steps[0] != 3 || steps[1] != 4 {
		t.Errorf("kept checkpoints %v, want [3 4]", steps)
	}
	metrics, err := ReadMetrics(filepath.Join(resumedDir, "metrics.jsonl"))
	if err != nil || len(metrics) != 4 {
		t.Errorf("metrics.jsonl: %d records, %v", len(metrics), err)
	}
	if _, err := os.Stat(filepath.Join(resumedDir, "loss.png")); err != nil {
		t.Errorf("no loss plot: %v", err)
	}
}

func TestNaNLossStops(t *testing.T) {
	nan := func(q, tg *Node) *Node { return Div(infoNCE(q, tg), ZerosLike(infoNCE(q, tg))) }
	tr, _ := newTrainer(t, t.TempDir(), 3, nan)
	_, err := tr.Run(context.Background())
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "at step 1") {
		t.Errorf("error %q does not name the step", err)
	}
}

func TestSchedules(t *testing.T) {
	c := Config{MaxSteps: 10, LearningRate: 1, WarmupSteps: 2, Schedule: "linear"}
	want := []float64{0, 0.5, 1, 7.0 / 8, 6.0 / 8, 5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8}
	for i, w := range want {
		if got := c.LearningRateAt(i + 1); math.Abs(got-w) > 1e-12 {
			t.Errorf("linear step %d: %v want %v", i+1, got, w)
		}
	}
	c.Schedule = "cosine"
	if got := c.LearningRateAt(3); math.Abs(got-1) > 1e-12 {
		t.Errorf("cosine after warmup: %v", got)
	}
	if got := c.LearningRateAt(7); math.Abs(got-0.5*(1+math.Cos(math.Pi*4/8))) > 1e-12 {
		t.Errorf("cosine mid: %v", got)
	}
}

// TestEmbedSeesUpdatedWeights: after an optimizer step the encoder's next
// Embed uses the new weights, with no call to remember (GradCache refreshes
// the model's inference programs).
func TestEmbedSeesUpdatedWeights(t *testing.T) {
	ctx := context.Background()
	enc, m := setup(t)
	in := []encoder.Input{{Text: "a red car on a road"}}
	before, err := enc.Embed(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := New(m, infoNCE)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := NewOptimizer(gc, DefaultAdamW())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Accumulate(ctx, chunks(t, enc, queries, 3, 1), chunks(t, enc, targets, 3, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := opt.Apply(1e-2); err != nil {
		t.Fatal(err)
	}
	after, err := enc.Embed(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0.0
	for k := range before[0] {
		moved = math.Max(moved, math.Abs(float64(after[0][k]-before[0][k])))
	}
	if moved < 1e-4 {
		t.Fatalf("Embed after a step moved by %g: stale weights", moved)
	}
}
