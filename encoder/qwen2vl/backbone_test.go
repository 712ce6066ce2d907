package qwen2vl

import (
	"testing"

	"github.com/org/vlm2vec/encoder/family"
)

// TestGMEPrompts: GME's template as its inference code writes it (system
// turn with the instruction or the default, the wrapped image, the text,
// the assistant turn ending in <|endoftext|>), and VLM2Vec's evaluation
// variant (default system prompt, "instruction text" as the user text).
// These are prompt bytes only: GME parity against its reference on a tiny
// checkpoint is not done yet.
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
