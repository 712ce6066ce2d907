package qwen2vl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"

	"github.com/org/vlm2vec/encoder/images"
)

// This file is the Go counterpart of transformers' PIL-based
// Qwen2VLImageProcessor (transformers 4.52.3, the version VLM2Vec pins,
// use_fast=False): smart_resize, Pillow's bicubic resampling, rescale,
// CLIP mean/std normalisation, temporal duplication and patch flattening.
// Every step reproduces the reference's arithmetic, so pixel_values come out
// bit for bit equal (see processor_test.go and docs/qwen2vl-processor.md).

// Resample is a Pillow resampling filter (package images).
type Resample = images.Resample

// Pillow's filter numbers.
const (
	ResampleNearest  = images.ResampleNearest
	ResampleLanczos  = images.ResampleLanczos
	ResampleBilinear = images.ResampleBilinear
	ResampleBicubic  = images.ResampleBicubic
	ResampleBox      = images.ResampleBox
	ResampleHamming  = images.ResampleHamming
)

// Defaults of transformers' Qwen2VLImageProcessor, used for every field a
// preprocessor_config.json leaves out (the real Qwen2-VL-*-Instruct files
// carry only min/max pixels, patch/merge sizes and mean/std).
const (
	DefaultMinPixels         = 56 * 56
	DefaultMaxPixels         = 28 * 28 * 1280
	DefaultPatchSize         = 14
	DefaultMergeSize         = 2
	DefaultTemporalPatchSize = 2
)

// OpenAI CLIP normalisation constants, the processor's default mean/std.
var (
	clipMean = [3]float64{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float64{0.26862954, 0.26130258, 0.27577711}
)

// ImageProcessorConfig holds the fields of a Qwen2-VL preprocessor_config.json
// that change the output. The zero value is not valid; start from
// DefaultImageProcessorConfig or ParseImageProcessorConfig.
type ImageProcessorConfig struct {
	DoResize     bool
	DoRescale    bool
	DoNormalize  bool
	DoConvertRGB bool // images are always converted to RGB here; kept for fidelity of the parsed file

	// MinPixels and MaxPixels bound height*width after smart_resize.
	MinPixels int
	MaxPixels int

	PatchSize         int // spatial patch side (14)
	MergeSize         int // patches merged per side into one LLM token (2)
	TemporalPatchSize int // frames per temporal patch (2); a still image is repeated

	ImageMean     [3]float64
	ImageStd      [3]float64
	RescaleFactor float64
	Resample      Resample
	// FusedNormalize selects the arithmetic of the fast (torch) processors
	// (Qwen2VLImageProcessorFast, Qwen3VLVideoProcessor): rescale folded
	// into mean and std (images.Normalization.Fused).
	FusedNormalize bool
}

// DefaultImageProcessorConfig returns transformers' defaults for
// Qwen2VLImageProcessor.
func DefaultImageProcessorConfig() ImageProcessorConfig {
	return ImageProcessorConfig{
		DoResize:          true,
		DoRescale:         true,
		DoNormalize:       true,
		DoConvertRGB:      true,
		MinPixels:         DefaultMinPixels,
		MaxPixels:         DefaultMaxPixels,
		PatchSize:         DefaultPatchSize,
		MergeSize:         DefaultMergeSize,
		TemporalPatchSize: DefaultTemporalPatchSize,
		ImageMean:         clipMean,
		ImageStd:          clipStd,
		RescaleFactor:     1.0 / 255,
		Resample:          ResampleBicubic,
	}
}

// Factor is the side multiple smart_resize rounds to: patch_size*merge_size.
func (c ImageProcessorConfig) Factor() int { return c.PatchSize * c.MergeSize }

// PatchDim is the length of one flattened patch: channels * temporal * patch².
func (c ImageProcessorConfig) PatchDim() int {
	return 3 * c.TemporalPatchSize * c.PatchSize * c.PatchSize
}

// Validate reports a configuration the processor cannot run.
func (c ImageProcessorConfig) Validate() error {
	switch {
	case c.PatchSize <= 0 || c.MergeSize <= 0 || c.TemporalPatchSize <= 0:
		return fmt.Errorf("qwen2vl: patch_size, merge_size and temporal_patch_size must be positive, got %d, %d, %d",
			c.PatchSize, c.MergeSize, c.TemporalPatchSize)
	case c.PatchSize > 1<<10 || c.MergeSize > 1<<10 || c.TemporalPatchSize > 1<<10:
		return fmt.Errorf("qwen2vl: implausibly large patch geometry %d/%d/%d", c.PatchSize, c.MergeSize, c.TemporalPatchSize)
	case c.MinPixels < 0 || c.MaxPixels <= 0:
		return fmt.Errorf("qwen2vl: min_pixels must be >= 0 and max_pixels > 0, got %d and %d", c.MinPixels, c.MaxPixels)
	case c.MinPixels > c.MaxPixels:
		return fmt.Errorf("qwen2vl: min_pixels %d exceeds max_pixels %d", c.MinPixels, c.MaxPixels)
	case !(c.RescaleFactor > 0) || math.IsInf(c.RescaleFactor, 0):
		return fmt.Errorf("qwen2vl: rescale_factor must be a positive finite number, got %v", c.RescaleFactor)
	}
	for i := 0; i < 3; i++ {
		m, s := c.ImageMean[i], c.ImageStd[i]
		if math.IsNaN(m) || math.IsInf(m, 0) || math.IsNaN(s) || math.IsInf(s, 0) || s == 0 {
			return fmt.Errorf("qwen2vl: image_mean/image_std must be finite with std != 0, got %v / %v", c.ImageMean, c.ImageStd)
		}
	}
	if err := c.Resample.Validate(); err != nil {
		return err
	}
	return nil
}

// LoadImageProcessorConfig reads and parses a preprocessor_config.json.
func LoadImageProcessorConfig(path string) (ImageProcessorConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ImageProcessorConfig{}, fmt.Errorf("qwen2vl: reading image processor config: %w", err)
	}
	cfg, err := ParseImageProcessorConfig(data)
	if err != nil {
		return ImageProcessorConfig{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return cfg, nil
}

// ParseImageProcessorConfig parses a preprocessor_config.json. Fields it does
// not know are ignored (configs carry image_processor_type, processor_class
// and, in newer files, video settings); fields it knows are type-checked, and
// JSON null means "absent" as it does for the reference's keyword arguments.
//
// Pixel bounds: top-level min_pixels/max_pixels win, as in transformers
// 4.52.3 and when a file holds both forms consistently (save_pretrained
// writes both). Otherwise size.shortest_edge/size.longest_edge are used
// (VLM2Vec's vendored processor reads only these; transformers 4.52.3
// ignores a size without min/max_pixels and silently falls back to the
// defaults, a bug this port does not copy). A size object must carry both
// bounds, as the reference demands; min_pixels/max_pixels inside size (a
// spelling some exported configs use) are accepted as aliases.
func ParseImageProcessorConfig(data []byte) (ImageProcessorConfig, error) {
	cfg := DefaultImageProcessorConfig()
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return cfg, fmt.Errorf("qwen2vl: image processor config is not a JSON object: %w", err)
	}
	if raw == nil {
		return cfg, errors.New("qwen2vl: image processor config is not a JSON object")
	}
	if dec.More() {
		return cfg, errors.New("qwen2vl: trailing data after the image processor config")
	}
	var err error
	field := func(name string, fn func(json.RawMessage) error) {
		if err != nil {
			return
		}
		v, ok := raw[name]
		if !ok || isNull(v) {
			return
		}
		if e := fn(v); e != nil {
			err = fmt.Errorf("qwen2vl: image processor config field %q: %w", name, e)
		}
	}
	boolField := func(name string, dst *bool) {
		field(name, func(v json.RawMessage) error { return json.Unmarshal(v, dst) })
	}
	intField := func(name string, dst *int) {
		field(name, func(v json.RawMessage) error { n, e := jsonInt(v); *dst = n; return e })
	}
	boolField("do_resize", &cfg.DoResize)
	boolField("do_rescale", &cfg.DoRescale)
	boolField("do_normalize", &cfg.DoNormalize)
	boolField("do_convert_rgb", &cfg.DoConvertRGB)
	intField("patch_size", &cfg.PatchSize)
	intField("merge_size", &cfg.MergeSize)
	intField("temporal_patch_size", &cfg.TemporalPatchSize)
	field("rescale_factor", func(v json.RawMessage) error { f, e := jsonFloat(v); cfg.RescaleFactor = f; return e })
	field("image_mean", func(v json.RawMessage) error { return jsonTriple(v, &cfg.ImageMean) })
	field("image_std", func(v json.RawMessage) error { return jsonTriple(v, &cfg.ImageStd) })
	field("resample", func(v json.RawMessage) error { n, e := jsonInt(v); cfg.Resample = Resample(n); return e })
	for _, name := range []string{"image_processor_type", "processor_class"} {
		field(name, func(v json.RawMessage) error { var s string; return json.Unmarshal(v, &s) })
	}
	// size first, then min/max_pixels override it.
	field("size", func(v json.RawMessage) error {
		var size map[string]json.RawMessage
		if e := json.Unmarshal(v, &size); e != nil || size == nil {
			return errors.New("must be an object")
		}
		lo, okLo, e1 := sizeBound(size, "shortest_edge", "min_pixels")
		hi, okHi, e2 := sizeBound(size, "longest_edge", "max_pixels")
		if e := errors.Join(e1, e2); e != nil {
			return e
		}
		if !okLo || !okHi {
			return errors.New("must contain 'shortest_edge' and 'longest_edge' keys")
		}
		cfg.MinPixels, cfg.MaxPixels = lo, hi
		return nil
	})
	intField("min_pixels", &cfg.MinPixels)
	intField("max_pixels", &cfg.MaxPixels)
	if err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func sizeBound(size map[string]json.RawMessage, name, alias string) (int, bool, error) {
	for _, k := range []string{name, alias} {
		if v, ok := size[k]; ok && !isNull(v) {
			n, err := jsonInt(v)
			if err != nil {
				return 0, false, fmt.Errorf("size.%s: %w", k, err)
			}
			return n, true, nil
		}
	}
	return 0, false, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// jsonInt accepts an integral JSON number (Python writes ints as 3136, but a
// config edited by hand may say 3136.0) that fits comfortably in an int.
func jsonInt(v json.RawMessage) (int, error) {
	f, err := jsonFloat(v)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		return 0, fmt.Errorf("want an integer, got %s", string(v))
	}
	return int(f), nil
}

func jsonFloat(v json.RawMessage) (float64, error) {
	// json.Number would also accept a quoted number; the reference would
	// keep such a value as a str and fail later, so reject it here.
	if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '"' {
		return 0, fmt.Errorf("want a number, got the string %s", truncate(v))
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, fmt.Errorf("want a number, got %s", truncate(v))
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a finite number, got %s", truncate(v))
	}
	return f, nil
}

// jsonTriple reads image_mean/image_std: a list of one value per RGB channel,
// or a single number applied to all three (the reference accepts both).
func jsonTriple(v json.RawMessage, dst *[3]float64) error {
	if f, err := jsonFloat(v); err == nil {
		*dst = [3]float64{f, f, f}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		return fmt.Errorf("want a number or a list of 3 numbers, got %s", truncate(v))
	}
	if len(list) != 3 {
		return fmt.Errorf("want 3 values (one per RGB channel), got %d", len(list))
	}
	for i, item := range list {
		f, err := jsonFloat(item)
		if err != nil {
			return err
		}
		dst[i] = f
	}
	return nil
}

func truncate(v json.RawMessage) string {
	if len(v) > 40 {
		return string(v[:40]) + "..."
	}
	return string(v)
}

// SmartResize returns the (height, width) the reference resizes an image to:
// both multiples of factor, area within [minPixels, maxPixels], aspect ratio
// kept as closely as rounding allows. It is transformers 4.52.3's
// smart_resize, float64 arithmetic and Python's round-half-to-even included,
// and fails where it raises: a side shorter than factor, or an aspect ratio
// above 200. It also fails where the reference would go on to crash in its
// reshape (a side rounding down to 0 under max_pixels).
func SmartResize(height, width, factor, minPixels, maxPixels int) (int, int, error) {
	if factor <= 0 {
		return 0, 0, fmt.Errorf("qwen2vl: smart_resize factor must be positive, got %d", factor)
	}
	if height < factor || width < factor {
		return 0, 0, fmt.Errorf("qwen2vl: image %dx%d (HxW) is smaller than the %d px minimum side; resize it first (VLM2Vec resizes sides under 28 px to 56x56)", height, width, factor)
	}
	// Python: max(h, w) / min(h, w) > 200, true division of ints.
	if float64(max(height, width))/float64(min(height, width)) > 200 {
		return 0, 0, fmt.Errorf("qwen2vl: image %dx%d (HxW) has an aspect ratio above 200, which the reference rejects", height, width)
	}
	h, w, f := float64(height), float64(width), float64(factor)
	hBar := int(math.RoundToEven(h/f)) * factor
	wBar := int(math.RoundToEven(w/f)) * factor
	switch {
	case hBar*wBar > maxPixels:
		// Same operation order as Python (h / beta / factor): each step
		// rounds to float64 exactly as CPython's does.
		beta := math.Sqrt(float64(height*width) / float64(maxPixels))
		hBar = int(math.Floor(h/beta/f)) * factor
		wBar = int(math.Floor(w/beta/f)) * factor
	case hBar*wBar < minPixels:
		beta := math.Sqrt(float64(minPixels) / float64(height*width))
		hBar = int(math.Ceil(h*beta/f)) * factor
		wBar = int(math.Ceil(w*beta/f)) * factor
	}
	if hBar <= 0 || wBar <= 0 {
		return 0, 0, fmt.Errorf("qwen2vl: image %dx%d (HxW) cannot fit max_pixels=%d with sides that are multiples of %d", height, width, maxPixels, factor)
	}
	return hBar, wBar, nil
}

// TinyImagePolicy says what to do with an image whose side is under the
// smart_resize minimum, which transformers rejects.
type TinyImagePolicy int

const (
	// TinyResize56 is VLM2Vec V2's rule (Qwen2_VL_process_fn): an image with
	// a side under 28 px is first resized to 56x56 with Pillow's default
	// filter (bicubic), aspect ratio not kept. The default.
	TinyResize56 TinyImagePolicy = iota
	// TinyError reproduces plain transformers: such images are an error.
	TinyError
)

// VLM2VecTinySide is the side below which VLM2Vec resizes an image to
// VLM2VecTinyTarget x VLM2VecTinyTarget (hard-coded there, not derived from
// the patch geometry).
const (
	VLM2VecTinySide   = 28
	VLM2VecTinyTarget = 56
)

// ImageProcessor turns images into Qwen2-VL pixel_values. It is safe for
// concurrent use.
type ImageProcessor struct {
	cfg ImageProcessorConfig
	// Tiny selects the handling of images with a side under 28 px.
	Tiny TinyImagePolicy
	// SquareExtremeAspect, when set, resizes an image whose aspect ratio
	// exceeds 200 to a square of side max(h, w) before smart_resize, as
	// VLM2Vec's vendored copy of the processor does, instead of failing as
	// transformers does. Off by default.
	SquareExtremeAspect bool
	// PassOrder picks the Pillow version whose resampler is reproduced:
	// PassOrderPillow12 (default, VLM2Vec's environment) or
	// PassOrderPillow13.
	PassOrder PassOrder
}

// NewImageProcessor validates cfg and returns a processor using VLM2Vec's
// tiny-image rule.
func NewImageProcessor(cfg ImageProcessorConfig) (*ImageProcessor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ImageProcessor{cfg: cfg, Tiny: TinyResize56}, nil
}

// Config returns the processor's configuration.
func (p *ImageProcessor) Config() ImageProcessorConfig { return p.cfg }

// ProcessedImage is one image ready for the vision tower.
type ProcessedImage struct {
	// PixelValues is row-major [NumPatches, PatchDim]. Each row is one
	// patch_size x patch_size patch, flattened as (channel, frame, y, x);
	// rows run over merge groups (2x2 patches that become one LLM token)
	// in raster order, and over the patches of a group in raster order.
	PixelValues []float32
	NumPatches  int
	PatchDim    int
	// GridTHW is image_grid_thw: temporal, height and width in patches.
	GridTHW [3]int
	// ResizedHeight and ResizedWidth are smart_resize's output size.
	ResizedHeight, ResizedWidth int
}

// NumImageTokens is how many <|image_pad|> tokens the image occupies in the
// prompt: t*h*w / merge_size².
func (p *ImageProcessor) NumImageTokens(grid [3]int) int {
	m := p.cfg.MergeSize
	return grid[0] * grid[1] * grid[2] / (m * m)
}

// ResizedSize returns the size (height, width) an image of the given size is
// resized to, after the tiny-image rule, without touching pixels; callers use
// it to bucket images by shape before processing.
func (p *ImageProcessor) ResizedSize(height, width int) (int, int, error) {
	if height <= 0 || width <= 0 {
		return 0, 0, fmt.Errorf("qwen2vl: empty image (%dx%d)", width, height)
	}
	if p.Tiny == TinyResize56 && (height < VLM2VecTinySide || width < VLM2VecTinySide) {
		height, width = VLM2VecTinyTarget, VLM2VecTinyTarget
	}
	if !p.cfg.DoResize {
		return height, width, nil
	}
	height, width = p.squared(height, width)
	return SmartResize(height, width, p.cfg.Factor(), p.cfg.MinPixels, p.cfg.MaxPixels)
}

// squared applies SquareExtremeAspect to a (height, width) pair.
func (p *ImageProcessor) squared(height, width int) (int, int) {
	if p.SquareExtremeAspect && float64(max(height, width))/float64(min(height, width)) > 200 {
		s := max(height, width, p.cfg.Factor())
		return s, s
	}
	return height, width
}

// Preprocess converts img to RGB (Pillow convert("RGB") semantics: alpha is
// dropped, not composited), applies the tiny-image rule, resizes, rescales,
// normalises and flattens it into patches.
func (p *ImageProcessor) Preprocess(img image.Image) (*ProcessedImage, error) {
	if img == nil {
		return nil, errors.New("qwen2vl: nil image")
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("qwen2vl: empty image (%dx%d)", b.Dx(), b.Dy())
	}
	return p.PreprocessRGB(NewRGBFromImage(img))
}

// PreprocessRGB is Preprocess for an image already in packed RGB.
func (p *ImageProcessor) PreprocessRGB(src *RGB) (*ProcessedImage, error) {
	resized, err := p.resize(src)
	if err != nil {
		return nil, err
	}
	return p.cfg.patchify(resized), nil
}

// resize applies the tiny-image rule and smart_resize + resampling, giving
// the uint8 image the reference rescales and normalises.
func (p *ImageProcessor) resize(src *RGB) (*RGB, error) {
	if src == nil || src.Width <= 0 || src.Height <= 0 || len(src.Pix) != 3*src.Width*src.Height {
		return nil, errors.New("qwen2vl: empty or malformed image")
	}
	var err error
	if p.Tiny == TinyResize56 && (src.Width < VLM2VecTinySide || src.Height < VLM2VecTinySide) {
		if src, err = ResizeOrdered(src, VLM2VecTinyTarget, VLM2VecTinyTarget, ResampleBicubic, p.PassOrder); err != nil {
			return nil, err
		}
	}
	c := p.cfg
	if !c.DoResize {
		if src.Height%c.Factor() != 0 || src.Width%c.Factor() != 0 {
			// The reference's reshape fails on such sizes.
			return nil, fmt.Errorf("qwen2vl: do_resize is false and %dx%d (HxW) is not a multiple of %d", src.Height, src.Width, c.Factor())
		}
		return src, nil
	}
	h, w := p.squared(src.Height, src.Width)
	h, w, err = SmartResize(h, w, c.Factor(), c.MinPixels, c.MaxPixels)
	if err != nil {
		return nil, err
	}
	return ResizeOrdered(src, w, h, c.Resample, p.PassOrder)
}

// normalizedPlanes rescales and normalises src as the reference does
// (images.Normalize).
func (c ImageProcessorConfig) normalizedPlanes(src *RGB) [3][]float32 {
	return images.Normalize(src, images.Normalization{
		Rescale: c.DoRescale, RescaleFactor: c.RescaleFactor, Normalize: c.DoNormalize, Mean: c.ImageMean, Std: c.ImageStd,
		Fused: c.FusedNormalize,
	})
}

// patchify flattens the normalised image into pixel_values: a still image
// is one frame, repeated TemporalPatchSize times.
func (c ImageProcessorConfig) patchify(src *RGB) *ProcessedImage {
	planes := c.normalizedPlanes(src)
	frames := make([][3][]float32, c.TemporalPatchSize)
	for t := range frames {
		frames[t] = planes
	}
	return c.patchifyFrames(frames, src.Height, src.Width)
}

// patchifyFrames flattens normalised frames (a multiple of
// TemporalPatchSize, all height x width) into pixel_values. The reference
// reshapes [F, C, H, W] to (grid_t, T, C, gh/m, m, P, gw/m, m, P),
// transposes to (grid_t, gh/m, gw/m, m, m, C, T, P, P) and flattens to
// [grid_t*gh*gw, C*T*P*P].
func (c ImageProcessorConfig) patchifyFrames(frames [][3][]float32, height, width int) *ProcessedImage {
	P, M, T := c.PatchSize, c.MergeSize, c.TemporalPatchSize
	gt, gh, gw := len(frames)/T, height/P, width/P
	dim := c.PatchDim()
	out := &ProcessedImage{
		NumPatches:    gt * gh * gw,
		PatchDim:      dim,
		GridTHW:       [3]int{gt, gh, gw},
		ResizedHeight: height,
		ResizedWidth:  width,
		PixelValues:   make([]float32, gt*gh*gw*dim),
	}
	row := 0
	for tg := 0; tg < gt; tg++ {
		for bh := 0; bh < gh/M; bh++ {
			for bw := 0; bw < gw/M; bw++ {
				for mh := 0; mh < M; mh++ {
					for mw := 0; mw < M; mw++ {
						y0, x0 := (bh*M+mh)*P, (bw*M+mw)*P
						dst := out.PixelValues[row*dim : (row+1)*dim]
						k := 0
						for ch := 0; ch < 3; ch++ {
							for t := 0; t < T; t++ {
								plane := frames[tg*T+t][ch]
								for py := 0; py < P; py++ {
									off := (y0+py)*width + x0
									k += copy(dst[k:k+P], plane[off:off+P])
								}
							}
						}
						row++
					}
				}
			}
		}
	}
	return out
}

// PreprocessVideo turns a video's frames (already sampled, in order) into
// pixel_values_videos the way the Qwen2-VL image processor VLM2Vec uses
// treats a video: every frame is resized to the size smart_resize gives
// the first frame (no 56x56 tiny-image rule: that is VLM2Vec's rule for
// still images; a frame side under 28 px makes the frame square, as the
// vendored smart_resize does), rescaled and normalised, and an odd frame count is padded
// by repeating the last frame up to a multiple of temporal_patch_size;
// grid_t = frames / temporal_patch_size.
func (p *ImageProcessor) PreprocessVideo(frames []*RGB) (*ProcessedImage, error) {
	if len(frames) == 0 {
		return nil, errors.New("qwen2vl: video without frames")
	}
	for i, f := range frames {
		if f == nil || f.Width <= 0 || f.Height <= 0 || len(f.Pix) != 3*f.Width*f.Height {
			return nil, fmt.Errorf("qwen2vl: video frame %d is empty or malformed", i)
		}
	}
	c := p.cfg
	h, w := frames[0].Height, frames[0].Width
	if c.DoResize {
		var err error
		h, w = p.squared(h, w)
		if h < c.Factor() || w < c.Factor() {
			// VLM2Vec's vendored smart_resize squares such sizes instead of
			// failing (max(factor, h, w) a side); its 56x56 rule covers still
			// images only, so frames reach this.
			h = max(c.Factor(), h, w)
			w = h
		}
		if h, w, err = SmartResize(h, w, c.Factor(), c.MinPixels, c.MaxPixels); err != nil {
			return nil, fmt.Errorf("qwen2vl: video frame 0: %w", err)
		}
	} else if h%c.Factor() != 0 || w%c.Factor() != 0 {
		return nil, fmt.Errorf("qwen2vl: do_resize is false and video frames of %dx%d (HxW) are not a multiple of %d", h, w, c.Factor())
	}
	planes := make([][3][]float32, 0, len(frames)+c.TemporalPatchSize)
	for i, f := range frames {
		if !c.DoResize && (f.Height != h || f.Width != w) {
			return nil, fmt.Errorf("qwen2vl: do_resize is false and video frame %d is %dx%d, frame 0 %dx%d", i, f.Height, f.Width, h, w)
		}
		if c.DoResize {
			var err error
			if f, err = ResizeOrdered(f, w, h, c.Resample, p.PassOrder); err != nil {
				return nil, fmt.Errorf("qwen2vl: video frame %d: %w", i, err)
			}
		}
		planes = append(planes, c.normalizedPlanes(f))
	}
	for len(planes)%c.TemporalPatchSize != 0 {
		planes = append(planes, planes[len(planes)-1])
	}
	return c.patchifyFrames(planes, h, w), nil
}

// RGB is a packed 8-bit RGB image (package images).
type RGB = images.RGB

// NewRGB allocates a black w x h image.
func NewRGB(w, h int) *RGB { return images.NewRGB(w, h) }

// NewRGBFromImage copies img into packed RGB with Pillow convert("RGB")
// semantics.
func NewRGBFromImage(img image.Image) *RGB { return images.NewRGBFromImage(img) }
