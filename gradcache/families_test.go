package gradcache

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/encoder/peft"
)

// TestEqualsFullBatchCLIPFamilies: for the families with a CLIP tower
// (Phi-3.5-V, LLaVA-NeXT) and an adapter on VLM2Vec's targets, which
// reach into CLIP's attention, GradCache's gradients equal the full
// batch's with dropout on, the vision tower's included: its masks are
// seeded per crop from the example's seed, so they do not depend on the
// chunking.
func TestEqualsFullBatchCLIPFamilies(t *testing.T) {
	for _, c := range []struct{ ckpt, adapter, image string }{
		{"phi3v/testdata/tiny-phi3v", "phi3v/testdata/tiny-phi3v-dora", "phi3v/testdata/images/photo_120x90.png"},
		{"llavanext/testdata/tiny-llava", "llavanext/testdata/tiny-llava-dora", "llavanext/testdata/images/photo_120x90.png"},
	} {
		t.Run(filepath.Base(c.ckpt), func(t *testing.T) {
			ctx := context.Background()
			root := filepath.Join("..", "encoder")
			enc, err := encoder.Open(ctx, filepath.Join(root, c.ckpt))
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			a, err := peft.Load(filepath.Join(root, c.adapter))
			if err != nil {
				t.Fatal(err)
			}
			a.Config.LoraDropout = 0.1
			vision := 0
			for mod := range a.Layers {
				if strings.Contains(mod, "vision") {
					vision++
				}
			}
			if vision == 0 {
				t.Fatal("the adapter has no vision-tower layers")
			}
			m := enc.Model()
			if err := m.AttachLoRA(a.Config, a, 0); err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(root, c.image)
			qs := []encoder.Input{
				{Instruction: "Represent the given image.", ImagePath: img},
				{Instruction: "Find me an everyday image that matches the given caption:", Text: "a red car"},
				{Instruction: "Represent the given image with the following question:", Text: "what is it?", ImagePath: img},
			}
			ts := []encoder.Input{{Text: "a photo"}, {Instruction: "Represent the given image.", ImagePath: img}, {Text: "a bridge"}}
			gc, err := New(m, infoNCE)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gc.FullBatch(ctx, chunks(t, enc, qs, 3, 1), chunks(t, enc, ts, 3, 2)); err != nil {
				t.Fatal(err)
			}
			ref, _ := gc.Gradients()
			gc.ZeroGradients()
			visionGrads := 0
			for name, g := range ref {
				if strings.Contains(name, "vision") {
					for _, v := range g {
						if v != 0 {
							visionGrads++
							break
						}
					}
				}
			}
			if visionGrads == 0 {
				t.Fatal("no vision-tower adapter variable got gradient")
			}
			if _, err := gc.Accumulate(ctx, chunks(t, enc, qs, 1, 1), chunks(t, enc, ts, 2, 2)); err != nil {
				t.Fatal(err)
			}
			got, _ := gc.Gradients()
			worst, name := relDiff(got, ref)
			t.Logf("%d vision adapter variables with gradient; worst gradient rel diff %.2g (%s)", visionGrads, worst, name)
			if worst > 1e-5 {
				t.Errorf("gradient of %s differs by %.3g relative", name, worst)
			}
		})
	}
}
