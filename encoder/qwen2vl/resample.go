package qwen2vl

import "github.com/org/vlm2vec/encoder/images"

// The Pillow-exact resampler lives in package images (every family's
// processor uses it); these names keep qwen2vl's API.

// PassOrder picks which Pillow version's pass order Resize reproduces.
type PassOrder = images.PassOrder

// Pass orders of Pillow 12 (VLM2Vec's environment, the default) and 13.
const (
	PassOrderPillow12 = images.PassOrderPillow12
	PassOrderPillow13 = images.PassOrderPillow13
)

// Resize is images.Resize.
func Resize(src *RGB, w, h int, filter Resample) (*RGB, error) {
	return images.Resize(src, w, h, filter)
}

// ResizeOrdered is images.ResizeOrdered.
func ResizeOrdered(src *RGB, w, h int, filter Resample, order PassOrder) (*RGB, error) {
	return images.ResizeOrdered(src, w, h, filter, order)
}
