package qwen2vl

import (
	"fmt"
	"math"
	"strings"

	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/instruct"
)

// GME (gme-Qwen2-VL) is Qwen2-VL weights driven by GME's inference code,
// which differs from VLM2Vec's use of the same backbone in four ways, all
// reproduced here and checked against that code (gme_goldens.json):
//
//   - the prompt is a chat template: the instruction as the system turn,
//     the wrapped image and the text as the user turn, and an assistant turn
//     ending in <|endoftext|>, the pooled token;
//   - images are first resized by qwen-vl-utils' fetch_image (a smart_resize
//     with its own bounds, Pillow bicubic), then by the processor;
//   - the processor's pixel budget is GME's (256 to 1280 visual tokens)
//     unless the caller sets one;
//   - the decoder gets no position ids, so positions are 1-D (0, 1, 2, ...)
//     even around <|vision_start|>: GME feeds inputs_embeds straight to the
//     decoder and never calls get_rope_index.

const (
	// gmeVisual is how GME writes an image into its prompt.
	gmeVisual = "<|vision_start|><|image_pad|><|vision_end|>"
	// GMEDefaultInstruction is GME's system prompt when a query has no
	// instruction, and for every document.
	GMEDefaultInstruction = "You are a helpful assistant."

	// GMEMinPixels and GMEMaxPixels are the processor budget GME's
	// inference code sets (min_image_tokens=256, max_image_tokens=1280, at
	// 28x28 pixels a token). VLM2Vec's MMEB evaluation of GME instead uses
	// its own defaults, 4·28² and 1280·28² (encoder.WithPixels).
	GMEMinPixels = 256 * 28 * 28
	GMEMaxPixels = 1280 * 28 * 28
)

// fetch_image's bounds (qwen-vl-utils, copied into GME's inference code).
const (
	gmeFetchFactor    = 28
	gmeFetchMinPixels = 4 * 28 * 28
	gmeFetchMaxPixels = 16384 * 28 * 28
	gmeFetchMaxRatio  = 200
)

// GMEFetchSize is the (height, width) GME's fetch_image resizes an image of
// the given size to before the processor sees it: qwen-vl-utils'
// smart_resize, which unlike the processor's never fails: a side under 28
// rounds up to 28 and an aspect ratio above 200 is clamped to 200.
func GMEFetchSize(height, width int) (int, int, error) {
	if height <= 0 || width <= 0 {
		return 0, 0, fmt.Errorf("qwen2vl: empty image (%dx%d)", width, height)
	}
	const f = gmeFetchFactor
	h, w := float64(height), float64(width)
	hBar := max(f, int(math.RoundToEven(h/f))*f)
	wBar := max(f, int(math.RoundToEven(w/f))*f)
	switch {
	case hBar*wBar > gmeFetchMaxPixels:
		beta := math.Sqrt(float64(height*width) / gmeFetchMaxPixels)
		hBar = int(math.Floor(h/beta/f)) * f
		wBar = int(math.Floor(w/beta/f)) * f
	case hBar*wBar < gmeFetchMinPixels:
		beta := math.Sqrt(gmeFetchMinPixels / float64(height*width))
		hBar = int(math.Ceil(h*beta/f)) * f
		wBar = int(math.Ceil(w*beta/f)) * f
	}
	if hBar <= 0 || wBar <= 0 {
		// Python goes on with a zero side and Pillow then raises.
		return 0, 0, fmt.Errorf("qwen2vl: image %dx%d (HxW) has a side that rounds to 0 under GME's pixel bound", height, width)
	}
	if float64(max(hBar, wBar))/float64(min(hBar, wBar)) > gmeFetchMaxRatio {
		if hBar > wBar {
			hBar = wBar * gmeFetchMaxRatio
		} else {
			wBar = hBar * gmeFetchMaxRatio
		}
	}
	return hBar, wBar, nil
}

// gmeFetch is fetch_image's resize (Pillow's Image.resize default filter,
// bicubic for RGB).
func (b *Backbone) gmeFetch(rgb *RGB) (*RGB, error) {
	h, w, err := GMEFetchSize(rgb.Height, rgb.Width)
	if err != nil {
		return nil, err
	}
	return ResizeOrdered(rgb, w, h, ResampleBicubic, b.proc.PassOrder)
}

// renderGME writes GME's chat template. GME takes images only: a video
// counts as one image (its middle frame, see Prepare), as VLM2Vec's GME
// evaluation feeds it.
func (b *Backbone) renderGME(r family.Request) (string, error) {
	system, text := r.Instruction, r.Text
	format := r.Format
	if r.Prompt != "" {
		// A data-format row: VLM2Vec's GME evaluation strips the image
		// token (with its newline) and keeps the rest as the text.
		text = strings.ReplaceAll(r.Prompt, instruct.DataImageToken+"\n", "")
		text = strings.ReplaceAll(text, instruct.DataImageToken, "")
		text = strings.ReplaceAll(text, instruct.DataVideoToken+" ", "")
		text = strings.ReplaceAll(text, instruct.DataVideoToken, "")
		system, format = "", family.FormatGME
	}
	switch format {
	case family.FormatDefault, family.FormatGME:
	case family.FormatGMEEval:
		t, err := instruct.ProcessInputText(r.Instruction, instruct.GME, r.Text, false, false)
		if err != nil {
			return "", err
		}
		system, text = "", t
	default:
		return "", fmt.Errorf("qwen2vl: prompt format %s is not one of GME's (gme, gme-eval)", r.Format)
	}
	if system == "" && text == "" && r.Images+r.Videos == 0 && r.Prompt == "" {
		return "", family.ErrEmptyInput
	}
	if system == "" {
		system = GMEDefaultInstruction
	}
	var sb strings.Builder
	sb.WriteString("<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n")
	for k := 0; k < r.Images+r.Videos; k++ {
		sb.WriteString(gmeVisual)
	}
	sb.WriteString(text + "<|im_end|>\n<|im_start|>assistant\n<|endoftext|>")
	return sb.String(), nil
}
