package encoder

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/org/vlm2vec/internal/testutil"
)

// TestBatchesShareOneShape: groups padded to a common shape (for SPMD
// programs) have identical input tensor shapes, a text-only group included,
// and the padding changes no embedding.
func TestBatchesShareOneShape(t *testing.T) {
	ctx := context.Background()
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-a"), WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	img := func(name string) string { return filepath.Join(goldenDir(), "images", name+".png") }
	groups := [][]Input{
		{{Prompt: "a red car"}, {Prompt: "two words"}},
		{{Prompt: "<|image_pad|> Represent the given image with the following question: what is in the image, described at some length?", ImagePath: img("big_500x333")}},
		{{Prompt: "<|image_pad|> one", ImagePath: img("tiny_10x7")}, {Prompt: "<|image_pad|> two", ImagePath: img("wide_300x40")}},
	}
	batches, err := enc.Batches(groups, 2)
	if err != nil {
		t.Fatal(err)
	}
	var first []string
	for g, b := range batches {
		var shapes []string
		for _, in := range b.Inputs() {
			shapes = append(shapes, in.(*tensors.Tensor).Shape().String())
		}
		if g == 0 {
			first = shapes
			if len(shapes) < 9 {
				t.Fatalf("the text-only group has no vision inputs: %v", shapes)
			}
			continue
		}
		if len(shapes) != len(first) {
			t.Fatalf("group %d: %d inputs, group 0 has %d", g, len(shapes), len(first))
		}
		for i := range shapes {
			if shapes[i] != first[i] {
				t.Errorf("group %d input %d: shape %s, group 0 has %s", g, i, shapes[i], first[i])
			}
		}
	}
	for g, b := range batches {
		out, err := enc.model.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := enc.Embed(ctx, groups[g])
		if err != nil {
			t.Fatal(err)
		}
		for r := range want {
			if e := testutil.MaxRelErr(out.Embeddings[r], toF64(want[r])); e > 1e-5 {
				t.Errorf("group %d row %d: padded to the common shape, rel err %.3g", g, r, e)
			}
		}
	}
	if _, err := enc.Batches([][]Input{{{Prompt: "a"}, {Prompt: "b"}, {Prompt: "c"}}}, 2); err == nil {
		t.Error("3 inputs in a batch of 2: no error")
	}
}

func toF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
