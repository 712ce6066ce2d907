package qwen3vl

import (
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/org/vlm2vec/encoder/family"
)

// TestInstruction: Qwen3-VL-Embedding's rule: stripped, "." unless the
// last character is Unicode punctuation, the default when empty.
func TestInstruction(t *testing.T) {
	for in, want := range map[string]string{
		"":                     DefaultInstruction,
		"   \n":                DefaultInstruction,
		" Retrieve a caption ": "Retrieve a caption.",
		"Find it!":             "Find it!",
		"Represent:":           "Represent:",
		"找到图片。":                "找到图片。",
		"¿Qué es?":             "¿Qué es?",
		"Rank (top 5)":         "Rank (top 5)",
		"emoji 🙂":              "emoji 🙂.",
	} {
		if got := Instruction(in); got != want {
			t.Errorf("Instruction(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRender: videos before images before text whatever the caller's
// order; data-format prompts lose their placeholders; other formats and
// empty inputs are refused.
func TestRender(t *testing.T) {
	b := &Backbone{}
	got, err := b.Render(family.Request{Text: "both", Images: 2, Videos: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nRepresent the user's input.<|im_end|>\n<|im_start|>user\n" + wrapVideo + wrapImage + wrapImage + "both<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	got, _ = b.Render(family.Request{Prompt: "<|image_1|>\nRepresent the given image.", Images: 1})
	if !strings.Contains(got, wrapImage+"Represent the given image.<|im_end|>") || strings.Contains(got, "<|image_1|>") {
		t.Errorf("data-format prompt rendered as %q", got)
	}
	if got, _ = b.Render(family.Request{Instruction: "Only an instruction"}); !strings.Contains(got, "user\nNULL<|im_end|>") {
		t.Errorf("instruction-only input rendered as %q (the reference embeds NULL)", got)
	}
	if _, err := b.Render(family.Request{}); err != family.ErrEmptyInput {
		t.Errorf("empty input: %v", err)
	}
	if _, err := b.Render(family.Request{Text: "x", Format: family.FormatV1}); err == nil {
		t.Error("VLM2Vec's v1 format accepted")
	}
}

func solid(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	return img
}

// TestPrepareErrors: bad visuals and prompts are errors, never panics. (A
// text-only prompt that carries an image token is not one: the reference
// feeds the token as an ordinary one, and so does Prepare.)
func TestPrepareErrors(t *testing.T) {
	b := openTiny(t)
	prompt, _ := b.Render(family.Request{Text: "x", Images: 1})
	vprompt, _ := b.Render(family.Request{Text: "x", Videos: 1})
	for name, c := range map[string]struct {
		prompt  string
		visuals []family.Visual
	}{
		"nil image":        {prompt, []family.Visual{{Image: nil}}},
		"empty image":      {prompt, []family.Visual{{Image: image.NewRGBA(image.Rect(0, 0, 0, 0))}}},
		"extreme aspect":   {prompt, []family.Visual{{Image: solid(2010, 10)}}},
		"extra visual":     {prompt, []family.Visual{{Image: solid(40, 40)}, {Image: solid(40, 40)}}},
		"video for image":  {prompt, []family.Visual{{Frames: []image.Image{solid(40, 40)}}}},
		"no frames":        {vprompt, []family.Visual{{Frames: []image.Image{}}}},
		"nil frame":        {vprompt, []family.Visual{{Frames: []image.Image{solid(40, 40), nil}}}},
		"frames mismatch":  {vprompt, []family.Visual{{Frames: []image.Image{solid(40, 40), solid(400, 90)}}}},
		"empty everything": {" ", nil},
	} {
		if _, err := b.Prepare(c.prompt, c.visuals); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// An RGBA image with transparent pixels is composited on white: a
	// fully transparent black image processes as a white one.
	clear := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	white := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := 0; i < 64*64; i++ {
		white.Set(i%64, i/64, color.NRGBA{255, 255, 255, 255})
	}
	a, err := b.proc.Image(clear)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := b.proc.Image(white)
	for i := range a.PixelValues {
		if a.PixelValues[i] != w.PixelValues[i] {
			t.Fatalf("transparent pixel %d = %v, white %v", i, a.PixelValues[i], w.PixelValues[i])
		}
	}
}

// TestSampleFrames: the embedder's linspace(..., dtype=int) truncation.
func TestSampleFrames(t *testing.T) {
	for _, c := range []struct {
		n, max int
		want   string
	}{{11, 4, "[0 3 6 10]"}, {64, 6, "[0 12 25 37 50 63]"}, {3, 8, "[0 1 2]"}, {5, 1, "[0]"}, {4, 0, "[0 1 2 3]"}} {
		if got := fmt.Sprint(SampleFrames(c.n, c.max)); got != c.want {
			t.Errorf("SampleFrames(%d, %d) = %s, want %s", c.n, c.max, got, c.want)
		}
	}
}
