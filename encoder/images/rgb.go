package images

import (
	"fmt"
	"image"
)

// Resample is a Pillow resampling filter, numbered as PIL.Image.Resampling
// (and as "resample" in preprocessor_config.json).
type Resample int

// Pillow's filter numbers.
const (
	ResampleNearest  Resample = 0
	ResampleLanczos  Resample = 1
	ResampleBilinear Resample = 2
	ResampleBicubic  Resample = 3
	ResampleBox      Resample = 4
	ResampleHamming  Resample = 5
)

func (r Resample) String() string {
	switch r {
	case ResampleNearest:
		return "nearest"
	case ResampleLanczos:
		return "lanczos"
	case ResampleBilinear:
		return "bilinear"
	case ResampleBicubic:
		return "bicubic"
	case ResampleBox:
		return "box"
	case ResampleHamming:
		return "hamming"
	}
	return fmt.Sprintf("resample(%d)", int(r))
}

// Validate reports whether the filter is one Resize implements.
func (r Resample) Validate() error {
	_, err := filterFor(r)
	return err
}

// RGB is a packed 8-bit RGB image, row-major, 3 bytes per pixel: the layout
// of a Pillow "RGB" image's bands (and of the numpy array the reference
// processes).
type RGB struct {
	Width, Height int
	Pix           []uint8
}

// NewRGB allocates a black w x h image.
func NewRGB(w, h int) *RGB { return &RGB{Width: w, Height: h, Pix: make([]uint8, 3*w*h)} }

// NewRGBFromImage copies img into packed RGB with Pillow convert("RGB")
// semantics, as package images defines them (alpha dropped, not
// composited; grayscale replicated; palettes looked up).
func NewRGBFromImage(img image.Image) *RGB {
	rgba := ToRGB(img)
	w, h := rgba.Rect.Dx(), rgba.Rect.Dy()
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		row := rgba.Pix[y*rgba.Stride:]
		for x := 0; x < w; x++ {
			copy(out.Pix[3*(y*w+x):3*(y*w+x)+3], row[4*x:4*x+3])
		}
	}
	return out
}
