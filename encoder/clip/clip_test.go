package clip

import "testing"

func TestIm2Col(t *testing.T) {
	// 2 channels, 4x4, patches of 2: patch (0,1) channel 1 row 0 is
	// crop[16 + 0*4 + 2 : +2].
	crop := make([]float32, 32)
	for i := range crop {
		crop[i] = float32(i)
	}
	got := Im2Col(crop, 2, 4, 2)
	patch1 := got[8:16]
	want := []float32{2, 3, 6, 7, 18, 19, 22, 23}
	for i := range want {
		if patch1[i] != want[i] {
			t.Fatalf("patch 1 = %v, want %v", patch1, want)
		}
	}
}

func TestWeightsAndUnused(t *testing.T) {
	c := &Config{HiddenSize: 8, IntermediateSize: 12, NumHiddenLayers: 3, NumAttentionHeads: 2, NumChannels: 3, ImageSize: 28, PatchSize: 14, HiddenAct: "quick_gelu", LayerNormEps: 1e-5}
	if p := c.Problems("vision_config"); len(p) != 0 {
		t.Fatal(p)
	}
	w := map[string][]int{}
	AddWeights(w, "v.", c)
	if got := len(w); got != 3+4+3*16 {
		t.Fatalf("%d tensors", got)
	}
	if s := w["v.embeddings.position_embedding.weight"]; s[0] != 5 || s[1] != 8 {
		t.Fatalf("position table %v", s)
	}
	u := map[string]bool{}
	UnusedWeights(u, "v.", c, 2)
	for name := range u {
		if _, ok := w[name]; !ok {
			t.Errorf("unused %s is not a weight", name)
		}
	}
	if !u["v.encoder.layers.2.mlp.fc1.weight"] || u["v.encoder.layers.1.mlp.fc1.weight"] || len(u) != 2+16 {
		t.Fatalf("unused set wrong: %d entries", len(u))
	}
	bad := *c
	bad.NumAttentionHeads = 3
	if len(bad.Problems("vision_config")) != 1 {
		t.Fatal("heads not dividing the width went unnoticed")
	}
}
