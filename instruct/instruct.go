// Package instruct writes the model-input strings of VLM2Vec byte for byte:
// the backbone image/video placeholder tokens, the swap from the data's
// Phi-3.5-V token <|image_1|>, the V1 stored-row format and V2's
// process_input_text rules, including V2's rewrite of the 36 image tasks
// back into the V1 format.
//
// No chat template and no system prompt are involved anywhere: the encoder
// sees exactly these strings, and the pooled token is the last one (often
// the trailing "\n"), so every space and newline matters.
package instruct

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Backbone identifies the vision-language model family an input is written
// for. The values are the reference's backbone ids.
type Backbone string

// The backbones whose prompt rules this package knows. Phi3V, LlavaNext,
// Qwen2VL and Qwen25VL are the trainable VLM2Vec backbones; GME, LamRA and
// LamRAQwen25 are evaluation baselines with their own (token-free) rule.
const (
	Phi3V       Backbone = "phi3_v"
	LlavaNext   Backbone = "llava_next"
	Qwen2VL     Backbone = "qwen2_vl"
	Qwen25VL    Backbone = "qwen2_5_vl"
	GME         Backbone = "gme"
	LamRA       Backbone = "lamra"
	LamRAQwen25 Backbone = "lamra_qwen25"
)

// DataImageToken is the image placeholder the MMEB data is stored with
// (Phi-3.5-V's), whatever model is evaluated.
const DataImageToken = "<|image_1|>"

// DataVideoToken is the video placeholder of data-format strings. The
// reference never stores video prompts for evaluation (it builds them with
// the backbone's token); this package uses Qwen2-VL's token, which is also
// what the V2 training data stores, so that data-format text is one string
// for every backbone and Swap renders it.
const DataVideoToken = "<|video_pad|>"

// ErrUnsupported reports a backbone this package has no rule for, or a
// modality the backbone cannot take (Phi-3.5-V has no video token).
var ErrUnsupported = errors.New("instruct: unsupported")

var imageTokens = map[Backbone]string{
	Phi3V:       "<|image_1|>",
	LlavaNext:   "<image>",
	Qwen2VL:     "<|image_pad|>",
	Qwen25VL:    "<|image_pad|>",
	GME:         "<|image_pad|>",
	LamRA:       "<|image_pad|>",
	LamRAQwen25: "<|image_pad|>",
}

// Phi3V is deliberately absent: the reference has no video token for it.
var videoTokens = map[Backbone]string{
	LlavaNext:   "<image>",
	Qwen2VL:     "<|video_pad|>",
	Qwen25VL:    "<|video_pad|>",
	GME:         "<|video_pad|>",
	LamRA:       "<|video_pad|>",
	LamRAQwen25: "<|video_pad|>",
}

// Backbones lists the known backbones in a fixed order.
func Backbones() []Backbone {
	return []Backbone{Phi3V, LlavaNext, Qwen2VL, Qwen25VL, GME, LamRA, LamRAQwen25}
}

// ImageToken returns the backbone's image placeholder token.
func ImageToken(b Backbone) (string, error) {
	t, ok := imageTokens[b]
	if !ok {
		return "", fmt.Errorf("%w backbone %q", ErrUnsupported, b)
	}
	return t, nil
}

// VideoToken returns the backbone's video placeholder token. Phi-3.5-V has
// none and yields ErrUnsupported.
func VideoToken(b Backbone) (string, error) {
	if _, ok := imageTokens[b]; !ok {
		return "", fmt.Errorf("%w backbone %q", ErrUnsupported, b)
	}
	t, ok := videoTokens[b]
	if !ok {
		return "", fmt.Errorf("%w: backbone %q has no video token", ErrUnsupported, b)
	}
	return t, nil
}

// Swap renders a data-format string for a backbone: every DataImageToken
// becomes the backbone's image token and every DataVideoToken its video
// token, verbatim, as the reference loaders do (a plain string replace, so
// the newline after the token is kept). Text with a video token fails for a
// backbone without one.
func Swap(text string, b Backbone) (string, error) {
	img, err := ImageToken(b)
	if err != nil {
		return "", err
	}
	if strings.Contains(text, DataVideoToken) {
		vid, err := VideoToken(b)
		if err != nil {
			return "", err
		}
		text = strings.ReplaceAll(text, DataVideoToken, vid)
	}
	return strings.ReplaceAll(text, DataImageToken, img), nil
}

// V1 writes a string in the V1 stored-row format: the image token and a
// newline when the input has an image, the instruction, " "+text when text
// is not empty, and a trailing newline. E.g. V1("Represent the given image
// with the following question:", "what is this?", true) is
// "<|image_1|>\nRepresent the given image with the following question: what is this?\n".
func V1(instruction, text string, image bool) string {
	var sb strings.Builder
	if image {
		sb.WriteString(DataImageToken)
		sb.WriteByte('\n')
	}
	sb.WriteString(instruction)
	if text != "" {
		sb.WriteByte(' ')
		sb.WriteString(text)
	}
	sb.WriteByte('\n')
	return sb.String()
}

// ProcessInputText is V2's process_input_text: prompt = instruction, then
// " "+text if text is not empty, then video token + " " + prompt if
// addVideo, then image token + " " + prompt if addImage (so with both, the
// image token comes first). GME and LamRA use instruction + " " + text and
// no token.
func ProcessInputText(instruction string, b Backbone, text string, addVideo, addImage bool) (string, error) {
	switch b {
	case GME, LamRA, LamRAQwen25:
		// These baselines never take a placeholder token.
		return instruction + " " + text, nil
	}
	prompt := instruction
	if text != "" {
		prompt += " " + text
	}
	if addVideo {
		vid, err := VideoToken(b)
		if err != nil {
			return "", err
		}
		prompt = vid + " " + prompt
	}
	if addImage {
		img, err := ImageToken(b)
		if err != nil {
			return "", err
		}
		prompt = img + " " + prompt
	} else if _, ok := imageTokens[b]; !ok {
		return "", fmt.Errorf("%w backbone %q", ErrUnsupported, b)
	}
	return prompt, nil
}

// PyStrip trims leading and trailing whitespace as Python's str.strip()
// does, which (unlike strings.TrimSpace) also removes U+001C..U+001F.
func PyStrip(s string) string {
	return strings.TrimFunc(s, pyIsSpace)
}

// PyRStrip trims trailing whitespace as Python's str.rstrip() does.
func PyRStrip(s string) string {
	return strings.TrimRightFunc(s, pyIsSpace)
}

func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// ProcessData applies ProcessInputText's rule with the data-format tokens
// (DataImageToken, DataVideoToken), giving a string that Swap renders into
// exactly what ProcessInputText would give for any VLM2Vec backbone.
func ProcessData(instruction, text string, addVideo, addImage bool) string {
	prompt := instruction
	if text != "" {
		prompt += " " + text
	}
	if addVideo {
		prompt = DataVideoToken + " " + prompt
	}
	if addImage {
		prompt = DataImageToken + " " + prompt
	}
	return prompt
}
