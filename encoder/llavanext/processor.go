package llavanext

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/org/vlm2vec/encoder/images"
)

// LLaVA-NeXT's image processor (transformers' LlavaNextImageProcessor):
// each image becomes the base image (resized to a square of the
// shortest-edge size, aspect ratio not kept) followed by the crops of the
// image resized into the best-fitting grid pinpoint and zero-padded to it;
// every crop is then resized on its shortest edge, centre-cropped,
// rescaled and normalised as CLIP's processor does. Every step reproduces
// the reference's arithmetic (Pillow's resampler, numpy's float32
// normalisation), so pixel values come out bit for bit equal.

// ImageProcessorConfig mirrors preprocessor_config.json.
type ImageProcessorConfig struct {
	DoResize      bool
	ShortestEdge  int // size.shortest_edge (or min(height, width))
	Resample      images.Resample
	DoCenterCrop  bool
	CropHeight    int
	CropWidth     int
	DoRescale     bool
	RescaleFactor float64
	DoNormalize   bool
	ImageMean     [3]float64
	ImageStd      [3]float64
	// GridPinpoints are the anyres resolutions (height, width).
	GridPinpoints [][2]int
}

// CLIP's normalisation constants, LlavaNextImageProcessor's defaults.
var (
	clipMean = [3]float64{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float64{0.26862954, 0.26130258, 0.27577711}
)

// DefaultImageProcessorConfig is LlavaNextImageProcessor's defaults.
func DefaultImageProcessorConfig() ImageProcessorConfig {
	return ImageProcessorConfig{
		DoResize: true, ShortestEdge: 224, Resample: images.ResampleBicubic, DoCenterCrop: true,
		CropHeight: 224, CropWidth: 224, DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
		ImageMean: clipMean, ImageStd: clipStd,
		GridPinpoints: [][2]int{{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}},
	}
}

// ParseImageProcessorConfig decodes a preprocessor_config.json document;
// absent fields keep LlavaNextImageProcessor's defaults.
func ParseImageProcessorConfig(data []byte) (ImageProcessorConfig, error) {
	c := DefaultImageProcessorConfig()
	var raw struct {
		DoResize      *bool           `json:"do_resize"`
		Size          map[string]int  `json:"size"`
		Resample      *int            `json:"resample"`
		DoCenterCrop  *bool           `json:"do_center_crop"`
		CropSize      json.RawMessage `json:"crop_size"`
		DoRescale     *bool           `json:"do_rescale"`
		RescaleFactor *float64        `json:"rescale_factor"`
		DoNormalize   *bool           `json:"do_normalize"`
		ImageMean     *[3]float64     `json:"image_mean"`
		ImageStd      *[3]float64     `json:"image_std"`
		GridPinpoints [][2]int        `json:"image_grid_pinpoints"`
		ProcessorType string          `json:"image_processor_type"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return c, fmt.Errorf("llavanext: preprocessor_config.json: %w", err)
	}
	if raw.ProcessorType != "" && raw.ProcessorType != "LlavaNextImageProcessor" && raw.ProcessorType != "LlavaNextImageProcessorFast" {
		return c, fmt.Errorf("llavanext: preprocessor_config.json image_processor_type %q is not LlavaNextImageProcessor", raw.ProcessorType)
	}
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.DoResize, raw.DoResize)
	set(&c.DoCenterCrop, raw.DoCenterCrop)
	set(&c.DoRescale, raw.DoRescale)
	set(&c.DoNormalize, raw.DoNormalize)
	if raw.Size != nil {
		switch {
		case raw.Size["shortest_edge"] > 0:
			c.ShortestEdge = raw.Size["shortest_edge"]
		case raw.Size["height"] > 0 && raw.Size["width"] > 0:
			c.ShortestEdge = min(raw.Size["height"], raw.Size["width"])
		default:
			return c, fmt.Errorf("llavanext: preprocessor_config.json size %v has neither shortest_edge nor height and width", raw.Size)
		}
	}
	if raw.Resample != nil {
		c.Resample = images.Resample(*raw.Resample)
	}
	if len(raw.CropSize) > 0 && string(raw.CropSize) != "null" {
		var side int
		if json.Unmarshal(raw.CropSize, &side) == nil {
			c.CropHeight, c.CropWidth = side, side
		} else {
			var hw map[string]int
			if err := json.Unmarshal(raw.CropSize, &hw); err != nil {
				return c, fmt.Errorf("llavanext: preprocessor_config.json crop_size: %w", err)
			}
			c.CropHeight, c.CropWidth = hw["height"], hw["width"]
		}
	}
	if raw.RescaleFactor != nil {
		c.RescaleFactor = *raw.RescaleFactor
	}
	if raw.ImageMean != nil {
		c.ImageMean = *raw.ImageMean
	}
	if raw.ImageStd != nil {
		c.ImageStd = *raw.ImageStd
	}
	if raw.GridPinpoints != nil {
		c.GridPinpoints = raw.GridPinpoints
	}
	return c, c.Validate()
}

// LoadImageProcessorConfig reads a preprocessor_config.json.
func LoadImageProcessorConfig(path string) (ImageProcessorConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ImageProcessorConfig{}, fmt.Errorf("llavanext: %w", err)
	}
	return ParseImageProcessorConfig(data)
}

// Validate checks the configuration is one the processor can run.
func (c ImageProcessorConfig) Validate() error {
	if err := c.Resample.Validate(); err != nil {
		return fmt.Errorf("llavanext: %w", err)
	}
	if c.ShortestEdge <= 0 || c.ShortestEdge > 1<<13 || c.CropHeight <= 0 || c.CropWidth <= 0 || c.CropHeight > 1<<13 || c.CropWidth > 1<<13 {
		return fmt.Errorf("llavanext: processor size %d / crop %dx%d invalid", c.ShortestEdge, c.CropHeight, c.CropWidth)
	}
	if c.CropHeight != c.CropWidth {
		return fmt.Errorf("llavanext: crop_size %dx%d is not square; anyres tiling needs square crops", c.CropHeight, c.CropWidth)
	}
	if !c.DoCenterCrop && c.ShortestEdge != c.CropHeight {
		return fmt.Errorf("llavanext: do_center_crop false needs size %d = crop size %d, or crops would not tile", c.ShortestEdge, c.CropHeight)
	}
	if c.DoCenterCrop && c.ShortestEdge < c.CropHeight {
		return fmt.Errorf("llavanext: shortest_edge %d below the crop size %d (the reference pads such crops; unsupported)", c.ShortestEdge, c.CropHeight)
	}
	if len(c.GridPinpoints) == 0 {
		return errors.New("llavanext: image_grid_pinpoints is empty")
	}
	for _, p := range c.GridPinpoints {
		if p[0] <= 0 || p[1] <= 0 || p[0]%c.CropHeight != 0 || p[1]%c.CropWidth != 0 || p[0] > 1<<14 || p[1] > 1<<14 {
			return fmt.Errorf("llavanext: image_grid_pinpoints entry %v is not a positive multiple of the crop size %d", p, c.CropHeight)
		}
	}
	for ch := 0; ch < 3; ch++ {
		if c.DoNormalize && c.ImageStd[ch] == 0 {
			return errors.New("llavanext: image_std has a zero")
		}
	}
	return nil
}

// SelectBestResolution is transformers' select_best_resolution: the
// pinpoint (height, width) that keeps the most of the image's resolution
// once it is scaled to fit, ties broken by the least wasted area, earlier
// pinpoints first. Float64 arithmetic and truncations as in Python.
func SelectBestResolution(height, width int, pinpoints [][2]int) (int, int) {
	best := [2]int{}
	maxEffective, minWasted := 0, math.MaxInt
	oh, ow := float64(height), float64(width)
	for _, p := range pinpoints {
		h, w := p[0], p[1]
		scale := math.Min(float64(w)/ow, float64(h)/oh)
		dw, dh := int(ow*scale), int(oh*scale)
		effective := min(dw*dh, width*height)
		wasted := w*h - effective
		if effective > maxEffective || (effective == maxEffective && wasted < minWasted) {
			maxEffective, minWasted, best = effective, wasted, p
		}
	}
	return best[0], best[1]
}

// patchOutputSize is get_patch_output_size: the size an image is resized to
// inside a pinpoint, aspect ratio kept, the limiting side exact.
func patchOutputSize(height, width, targetH, targetW int) (int, int) {
	scaleW := float64(targetW) / float64(width)
	scaleH := float64(targetH) / float64(height)
	if scaleW < scaleH {
		return min(int(math.Ceil(float64(height)*scaleW)), targetH), targetW
	}
	return targetH, min(int(math.Ceil(float64(width)*scaleH)), targetW)
}

// ImageProcessor turns images into LLaVA-NeXT pixel values. It is safe for
// concurrent use.
type ImageProcessor struct {
	cfg ImageProcessorConfig
	// PassOrder picks the Pillow version whose resampler is reproduced.
	PassOrder images.PassOrder
}

// NewImageProcessor validates cfg.
func NewImageProcessor(cfg ImageProcessorConfig) (*ImageProcessor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ImageProcessor{cfg: cfg}, nil
}

// Config returns the processor's configuration.
func (p *ImageProcessor) Config() ImageProcessorConfig { return p.cfg }

// ProcessedImage is one image ready for the vision tower.
type ProcessedImage struct {
	// Crops are the base image then the grid crops in raster order, each
	// [3, Side, Side] flattened channel-major: pixel_values[i] of the
	// reference.
	Crops [][]float32
	Side  int
	// Height and Width are the image's size before processing
	// (image_sizes); BestHeight and BestWidth the pinpoint it was tiled to.
	Height, Width         int
	BestHeight, BestWidth int
}

// Preprocess processes one packed RGB image.
func (p *ImageProcessor) Preprocess(src *images.RGB) (*ProcessedImage, error) {
	if src == nil || src.Width <= 0 || src.Height <= 0 || len(src.Pix) != 3*src.Width*src.Height {
		return nil, errors.New("llavanext: empty or malformed image")
	}
	c := p.cfg
	bh, bw := SelectBestResolution(src.Height, src.Width, c.GridPinpoints)
	nh, nw := patchOutputSize(src.Height, src.Width, bh, bw)
	resized, err := images.ResizeOrdered(src, nw, nh, c.Resample, p.PassOrder)
	if err != nil {
		return nil, fmt.Errorf("llavanext: %w", err)
	}
	// Zero padding centred in the pinpoint, the odd pixel after.
	padded := images.NewRGB(bw, bh)
	top, left := (bh-nh)/2, (bw-nw)/2
	for y := 0; y < nh; y++ {
		copy(padded.Pix[3*((top+y)*bw+left):], resized.Pix[3*y*nw:3*(y+1)*nw])
	}
	side := c.CropHeight
	base, err := images.ResizeOrdered(src, c.ShortestEdge, c.ShortestEdge, c.Resample, p.PassOrder)
	if err != nil {
		return nil, fmt.Errorf("llavanext: %w", err)
	}
	pieces := []*images.RGB{base}
	for y := 0; y < bh; y += side {
		for x := 0; x < bw; x += side {
			pieces = append(pieces, cropRGB(padded, x, y, side, side))
		}
	}
	out := &ProcessedImage{Side: side, Height: src.Height, Width: src.Width, BestHeight: bh, BestWidth: bw}
	for _, piece := range pieces {
		if piece, err = p.clipPreprocess(piece); err != nil {
			return nil, err
		}
		planes := images.Normalize(piece, images.Normalization{
			Rescale: c.DoRescale, RescaleFactor: c.RescaleFactor, Normalize: c.DoNormalize, Mean: c.ImageMean, Std: c.ImageStd,
		})
		flat := make([]float32, 0, 3*side*side)
		for ch := 0; ch < 3; ch++ {
			flat = append(flat, planes[ch]...)
		}
		out.Crops = append(out.Crops, flat)
	}
	return out, nil
}

// clipPreprocess is CLIP's resize (shortest edge) and centre crop applied to
// one piece; for pieces already of the crop size both are identities.
func (p *ImageProcessor) clipPreprocess(img *images.RGB) (*images.RGB, error) {
	c := p.cfg
	var err error
	if c.DoResize {
		// get_resize_output_image_size with default_to_square=False.
		short, long := img.Height, img.Width
		if short > long {
			short, long = long, short
		}
		ns, nl := c.ShortestEdge, int(float64(c.ShortestEdge)*float64(long)/float64(short))
		h, w := ns, nl
		if img.Height > img.Width {
			h, w = nl, ns
		}
		if img, err = images.ResizeOrdered(img, w, h, c.Resample, p.PassOrder); err != nil {
			return nil, fmt.Errorf("llavanext: %w", err)
		}
	}
	if c.DoCenterCrop {
		if img.Height < c.CropHeight || img.Width < c.CropWidth {
			return nil, fmt.Errorf("llavanext: %dx%d piece smaller than the crop %dx%d", img.Width, img.Height, c.CropWidth, c.CropHeight)
		}
		img = cropRGB(img, (img.Width-c.CropWidth)/2, (img.Height-c.CropHeight)/2, c.CropWidth, c.CropHeight)
	}
	if img.Height != c.CropHeight || img.Width != c.CropWidth {
		return nil, fmt.Errorf("llavanext: piece is %dx%d, not the crop size %dx%d", img.Width, img.Height, c.CropWidth, c.CropHeight)
	}
	return img, nil
}

func cropRGB(src *images.RGB, x0, y0, w, h int) *images.RGB {
	if x0 == 0 && y0 == 0 && w == src.Width && h == src.Height {
		return src
	}
	out := images.NewRGB(w, h)
	for y := 0; y < h; y++ {
		copy(out.Pix[3*y*w:3*(y+1)*w], src.Pix[3*((y0+y)*src.Width+x0):])
	}
	return out
}

// Layout is how one image's features are laid out in the prompt.
type Layout struct {
	// GridRows, GridCols: the crop grid (pinpoint / crop size).
	GridRows, GridCols int
	// Rows, Cols: the unpadded feature grid kept from the
	// (GridRows*side) x (GridCols*side) feature map; RowOff, ColOff: where
	// it starts.
	Rows, Cols, RowOff, ColOff int
	// Side is the vision tower's patch grid side (image_size/patch_size).
	Side int
}

// Tokens is the number of <image> tokens the image takes: the base image's
// side² features, then Rows x (Cols + 1 newline).
func (l Layout) Tokens() int { return l.Side*l.Side + l.Rows*(l.Cols+1) }

// ImageLayout computes the layout of an image of the given size, exactly as
// transformers' processor counts tokens (_get_number_of_features) and as its
// model unpads features (unpad_image): the unpadded side is
// floor(original * current / original_other) in exact integer arithmetic,
// which is what both of them compute for any real image size.
func ImageLayout(height, width int, pinpoints [][2]int, cropSide, featureSide int) Layout {
	bh, bw := SelectBestResolution(height, width, pinpoints)
	l := Layout{GridRows: bh / cropSide, GridCols: bw / cropSide, Side: featureSide}
	curH, curW := l.GridRows*featureSide, l.GridCols*featureSide
	l.Rows, l.Cols = curH, curW
	// original_aspect > current_aspect, compared as exact fractions
	// (width/height > curW/curH); the reference compares float64 ratios,
	// which agree except for ties within rounding, where both sides pick
	// the else-branch with padding 0.
	if width*curH > curW*height {
		newH := height * curW / width
		pad := (curH - newH) / 2
		l.RowOff, l.Rows = pad, curH-2*pad
	} else {
		newW := width * curH / height
		pad := (curW - newW) / 2
		l.ColOff, l.Cols = pad, curW-2*pad
	}
	return l
}
