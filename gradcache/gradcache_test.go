package gradcache

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/loss"
)

var testdata = filepath.Join("..", "encoder", "qwen2vl", "testdata")

// setup opens the tiny checkpoint with the golden DoRA adapter attached as
// trainable variables (non-zero B, so every adapter weight gets gradient),
// dropout 0.1 as VLM2Vec trains.
func setup(t *testing.T) (*encoder.Encoder, family.Model) {
	t.Helper()
	ctx := context.Background()
	enc, err := encoder.Open(ctx, filepath.Join(testdata, "tiny-a"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := peft.Load(filepath.Join(testdata, "tiny-a-dora"))
	if err != nil {
		t.Fatal(err)
	}
	a.Config.LoraDropout = 0.1
	m := enc.Model()
	if err := m.AttachLoRA(a.Config, a, 0); err != nil {
		t.Fatal(err)
	}
	return enc, m
}

var (
	queries = []encoder.Input{
		{Instruction: "Represent the given image with the following question:", Text: "what is this?", ImagePath: filepath.Join(testdata, "images", "photo_120x90.png")},
		{Instruction: "Find me an everyday image that matches the given caption:", Text: "a red car on a road"},
		{Instruction: "Represent the given image.", ImagePath: filepath.Join(testdata, "images", "wide_300x40.png")},
		{Instruction: "Retrieve an image of this news caption.", Text: "the mayor opens a bridge"},
		{Instruction: "Represent the given image for classification", ImagePath: filepath.Join(testdata, "images", "alpha_64x48.png")},
		{Instruction: "Find a caption for the news in the given photo.", ImagePath: filepath.Join(testdata, "images", "tiny_10x7.png")},
	}
	targets = []encoder.Input{
		{Prompt: "a photo"}, {Prompt: "Represent the given image.", ImagePath: ""},
		{Prompt: "<|image_1|>\nRepresent the given image.\n", ImagePath: filepath.Join(testdata, "images", "photo_120x90.png")},
		{Prompt: "a bridge"}, {Prompt: "a cat"}, {Prompt: "a dog sleeping in the sun"},
	}
)

// chunks splits inputs into chunks of size (the last may be short and is
// padded with filler rows); seeds depend only on the example index.
func chunks(t testing.TB, enc *encoder.Encoder, inputs []encoder.Input, size int, seedBase uint32) []Chunk {
	t.Helper()
	var out []Chunk
	for start := 0; start < len(inputs); start += size {
		end := min(start+size, len(inputs))
		b, err := enc.Batch(inputs[start:end], size)
		if err != nil {
			t.Fatal(err)
		}
		seeds := make([]uint32, size)
		for i := range seeds {
			seeds[i] = seedBase + uint32(start+i)*7919
		}
		out = append(out, Chunk{Inputs: b.Inputs(), Rows: end - start, Seeds: seeds})
	}
	return out
}

func infoNCE(q, t *Node) *Node { return loss.InfoNCE(q, t, loss.Options{Temperature: 0.02}) }

func relDiff(a, b map[string][]float32) (worst float64, name string) {
	for k, va := range a {
		vb := b[k]
		var num, den float64
		for i := range va {
			num = math.Max(num, math.Abs(float64(va[i]-vb[i])))
			den = math.Max(den, math.Abs(float64(vb[i])))
		}
		if den == 0 {
			continue
		}
		if r := num / den; r > worst {
			worst, name = r, k
		}
	}
	return
}

// TestEqualsFullBatch: with dropout on, GradCache's accumulated parameter
// gradients equal the full-batch gradients to 1e-5 relative (per variable,
// max |diff| / max |grad|), for chunk sizes that divide the batch of 6 and
// ones that do not, and different query and target chunk sizes.
func TestEqualsFullBatch(t *testing.T) {
	ctx := context.Background()
	enc, m := setup(t)
	gc, err := New(m, infoNCE)
	if err != nil {
		t.Fatal(err)
	}
	refLoss, err := gc.FullBatch(ctx, chunks(t, enc, queries, 6, 1), chunks(t, enc, targets, 6, 2))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := gc.Gradients()
	gc.ZeroGradients()
	nonzero := 0
	for _, g := range ref {
		for _, v := range g {
			if v != 0 {
				nonzero++
				break
			}
		}
	}
	if nonzero != len(ref) {
		t.Fatalf("only %d of %d variables got gradient in the full batch", nonzero, len(ref))
	}
	for _, cs := range [][2]int{{1, 1}, {4, 4}, {2, 3}, {6, 5}, {4, 6}} {
		l, err := gc.Accumulate(ctx, chunks(t, enc, queries, cs[0], 1), chunks(t, enc, targets, cs[1], 2))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := gc.Gradients()
		gc.ZeroGradients()
		worst, name := relDiff(got, ref)
		t.Logf("chunks q%d/t%d: loss %.6f (full %.6f), worst gradient rel diff %.2g (%s)", cs[0], cs[1], l, refLoss, worst, name)
		if worst > 1e-5 {
			t.Errorf("chunks %v: gradient of %s differs by %.3g relative", cs, name, worst)
		}
		if math.Abs(l-refLoss) > 1e-5*math.Abs(refLoss) {
			t.Errorf("chunks %v: loss %v, full batch %v", cs, l, refLoss)
		}
	}
}

// TestDropoutIsOn: different seeds give different gradients, so the
// equality above is not an artefact of dropout being inactive.
func TestDropoutIsOn(t *testing.T) {
	ctx := context.Background()
	enc, m := setup(t)
	gc, err := New(m, infoNCE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Accumulate(ctx, chunks(t, enc, queries, 3, 1), chunks(t, enc, targets, 3, 2)); err != nil {
		t.Fatal(err)
	}
	a, _ := gc.Gradients()
	gc.ZeroGradients()
	if _, err := gc.Accumulate(ctx, chunks(t, enc, queries, 3, 100), chunks(t, enc, targets, 3, 200)); err != nil {
		t.Fatal(err)
	}
	b, _ := gc.Gradients()
	if worst, _ := relDiff(a, b); worst < 1e-3 {
		t.Fatalf("changing dropout seeds changed gradients by only %.2g", worst)
	}
}

// TestStepEqualsFullBatchStep: one AdamW step from GradCache gradients
// leaves the same weights as one from full-batch gradients.
func TestStepEqualsFullBatchStep(t *testing.T) {
	ctx := context.Background()
	var after [2]map[string][]float32
	for run := 0; run < 2; run++ {
		enc, m := setup(t)
		gc, err := New(m, infoNCE)
		if err != nil {
			t.Fatal(err)
		}
		opt, err := NewOptimizer(gc, DefaultAdamW())
		if err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			_, err = gc.FullBatch(ctx, chunks(t, enc, queries, 6, 1), chunks(t, enc, targets, 6, 2))
		} else {
			_, err = gc.Accumulate(ctx, chunks(t, enc, queries, 4, 1), chunks(t, enc, targets, 5, 2))
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := opt.Apply(1e-3); err != nil {
			t.Fatal(err)
		}
		if opt.Step() != 1 {
			t.Fatalf("step %d", opt.Step())
		}
		a, err := m.Adapter()
		if err != nil {
			t.Fatal(err)
		}
		after[run] = map[string][]float32{}
		for mod, l := range a.Layers {
			after[run][mod+".A"], after[run][mod+".B"], after[run][mod+".m"] = l.A, l.B, l.Magnitude
		}
	}
	// Adam divides each gradient element by its own magnitude, so the step
	// size of an element is ~lr whatever its gradient: compare weight
	// differences with lr. Elements whose gradient is near ε amplify the
	// 1e-7-level gradient rounding; 1% of lr is far below one step.
	var worst float64
	for k, a := range after[1] {
		for i, v := range a {
			worst = math.Max(worst, math.Abs(float64(v-after[0][k][i])))
		}
	}
	t.Logf("max |weight difference| after one step: %.3g (lr 1e-3)", worst)
	if worst > 1e-5 {
		t.Errorf("weights after one step differ by %.3g > 1%% of lr", worst)
	}
}
