package qwen2vl

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/org/vlm2vec/encoder/family"
)

// TestGMEPrompts: GME's template as its inference code writes it (system
// turn with the instruction or the default, the wrapped image, the text,
// the assistant turn ending in <|endoftext|>), and VLM2Vec's evaluation
// variant (default system prompt, "instruction text" as the user text).
// Parity with GME's inference code end to end is encoder.TestGMEMatchesReference.
func TestGMEPrompts(t *testing.T) {
	b := &Backbone{gme: true}
	for _, c := range []struct {
		r    family.Request
		want string
	}{
		{family.Request{Instruction: "Find an image that matches the given caption.", Text: "a red car"},
			"<|im_start|>system\nFind an image that matches the given caption.<|im_end|>\n<|im_start|>user\na red car<|im_end|>\n<|im_start|>assistant\n<|endoftext|>"},
		{family.Request{Images: 1},
			"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n<|endoftext|>"},
		{family.Request{Instruction: "Represent the given image.", Text: "cat", Images: 1, Format: family.FormatGMEEval},
			"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Represent the given image. cat<|im_end|>\n<|im_start|>assistant\n<|endoftext|>"},
		{family.Request{Prompt: "<|image_1|>\nRepresent the given image.\n", Images: 1},
			"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Represent the given image.\n<|im_end|>\n<|im_start|>assistant\n<|endoftext|>"},
	} {
		got, err := b.Render(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Render(%+v) =\n%q\nwant\n%q", c.r, got, c.want)
		}
	}
	if _, err := b.Render(family.Request{Format: family.FormatV1, Text: "x"}); err == nil {
		t.Error("V1 format accepted for GME")
	}
	if _, err := (&Backbone{}).Render(family.Request{Format: family.FormatGME, Text: "x"}); err == nil {
		t.Error("GME format accepted for Qwen2-VL")
	}
}

// TestGMEFetchSize: qwen-vl-utils' smart_resize as GME's fetch_image calls
// it; expected values printed by that function (Python).
func TestGMEFetchSize(t *testing.T) {
	for _, c := range []struct{ h, w, wantH, wantW int }{
		{7, 10, 56, 84},
		{20, 6000, 28, 5600}, // 28x6020 rounds past ratio 200: clamped
		{100000, 100000, 3584, 3584},
		{1, 1, 56, 56},
		{13, 14, 56, 84},
		{3000, 10, 2996, 28},
		{41, 42, 56, 84},
		{5000, 3, 5012, 28},
	} {
		h, w, err := GMEFetchSize(c.h, c.w)
		if err != nil || h != c.wantH || w != c.wantW {
			t.Errorf("GMEFetchSize(%d, %d) = %d, %d, %v; want %d, %d", c.h, c.w, h, w, err, c.wantH, c.wantW)
		}
	}
	for _, c := range [][2]int{{0, 10}, {10, -1}, {1, 10000000}} {
		if _, _, err := GMEFetchSize(c[0], c[1]); err == nil {
			t.Errorf("GMEFetchSize(%d, %d) accepted", c[0], c[1])
		}
	}
}

// TestGMEDetect: a qwen2_vl directory is GME exactly when it holds
// gme_inference.py.
func TestGMEDetect(t *testing.T) {
	dir := t.TempDir()
	cfg := []byte(`{"model_type": "qwen2_vl"}`)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := family.ReadProbe(dir)
	if err != nil {
		t.Fatal(err)
	}
	if GMEFamily.Detect(p) || !VLM2VecFamily.Detect(p) {
		t.Fatal("plain Qwen2-VL directory taken for GME")
	}
	if err := os.WriteFile(filepath.Join(dir, GMEMarker), []byte("#\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err = family.ReadProbe(dir); err != nil {
		t.Fatal(err)
	}
	if !GMEFamily.Detect(p) {
		t.Fatal("GME directory not detected")
	}
}
