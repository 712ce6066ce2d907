package qwen2vl

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/layers"
	"github.com/org/vlm2vec/internal/testutil"
)

// TestFusedAttention: with the fused attention op forced on (the Go
// backend has one, slower than the masked form, so AttentionAuto leaves it
// off there), right-padded batches run the decoder through it, left-padded
// ones through the masked form, and both agree with the masked form (1e-5
// relative, float32 rounding of a different summation). On CUDA in bf16,
// AttentionAuto takes this path; the GPU script checks it against the
// goldens.
func TestFusedAttention(t *testing.T) {
	g, pix := loadEncoderGoldens(t)
	b := backend(t)
	hasFused := b.Capabilities().Operations[compute.OpTypeFusedScaledDotProductAttention]
	fused, err := Load(b, filepath.Join(goldenDir(), "tiny-a"), LoadOptions{Attention: AttentionFused})
	if err != nil {
		t.Fatal(err)
	}
	if fused.fused != hasFused {
		t.Fatalf("model uses fused attention: %v; backend has it: %v", fused.fused, hasFused)
	}
	masked, err := Load(b, filepath.Join(goldenDir(), "tiny-a"), LoadOptions{Attention: AttentionMasked})
	if err != nil {
		t.Fatal(err)
	}
	auto, err := Load(b, filepath.Join(goldenDir(), "tiny-a"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if masked.fused || (layers.IsGoBackend(b) && auto.fused) || (!hasFused && auto.fused) {
		t.Fatalf("fused attention where it should not be: masked %v, auto %v on %s", masked.fused, auto.fused, b.Name())
	}
	if _, err := Load(b, filepath.Join(goldenDir(), "tiny-a"), LoadOptions{Attention: 7}); err == nil {
		t.Error("unknown attention kind: no error")
	}
	right, left := 0, 0
	for i := range g.Cases {
		c := &g.Cases[i]
		if c.Model != "tiny-a" || c.Adapter != nil || c.DType != "float32" {
			continue
		}
		batch := batchFromGolden(t, c, fused.Config, pix)
		if batch.RightPadded() {
			right++
		} else {
			left++
		}
		a, err := fused.Forward(batch)
		if err != nil {
			t.Fatal(err)
		}
		want, err := masked.Forward(batch)
		if err != nil {
			t.Fatal(err)
		}
		for r := range want.Embeddings {
			w := make([]float64, len(want.Embeddings[r]))
			for k, v := range want.Embeddings[r] {
				w[k] = float64(v)
			}
			if e := testutil.MaxRelErr(a.Embeddings[r], w); e > 1e-5 {
				t.Errorf("%s row %d: fused vs masked attention rel err %.3g", c.ID, r, e)
			}
		}
	}
	if right == 0 || left == 0 {
		t.Fatalf("cases: %d right-padded, %d left-padded; need both", right, left)
	}
	if !hasFused {
		return
	}
	// The fused op is really in the right-padded program.
	for _, c := range g.Cases {
		if c.Model != "tiny-a" || c.Adapter != nil || c.DType != "float32" {
			continue
		}
		batch := batchFromGolden(t, &c, fused.Config, pix)
		if !batch.RightPadded() {
			continue
		}
		e := model.MustNewExec(b, fused.Store(), func(scope *model.Scope, in []*Node) *Node {
			emb, _ := fused.embed(scope, in, nil)
			return emb
		})
		_, graph, err := e.CallWithGraph(batch.Inputs()...)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, node := range graph.Nodes() {
			if node.Type() == NodeTypeFusedScaledDotProductAttention {
				n++
			}
		}
		if n != fused.Config.NumHiddenLayers {
			t.Errorf("%d fused attention nodes for %d decoder layers", n, fused.Config.NumHiddenLayers)
		}
		break
	}
}
