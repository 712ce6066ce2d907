package qwen3vl

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/qwen2vl"
)

// The pre-processing of Qwen3-VL-Embedding: qwen-vl-utils (0.0.14) resizes
// images and video frames, then transformers' processor rescales,
// normalises and cuts patches without resizing again (do_resize=False).

// Defaults of Qwen3-VL-Embedding's embedder (its module constants).
const (
	ImageFactor     = 32 // patch 16 x merge 2
	MinPixels       = 4 * ImageFactor * ImageFactor
	MaxPixels       = 1800 * ImageFactor * ImageFactor
	MaxFrames       = 64
	FrameMaxPixels  = 768 * ImageFactor * ImageFactor
	MaxTotalPixels  = 10 * FrameMaxPixels
	videoMinTokens  = 128 // qwen-vl-utils' VIDEO_MIN_TOKEN_NUM
	imageMaxTokens  = 16384
	imageMinTokens  = 4
	maxAspectRatio  = 200
	frameListFPS    = 2.0 // the fps qwen-vl-utils gives a list of frames
	temporalFactor  = 2   // FRAME_FACTOR: frames come in pairs
	defaultPatch    = 16
	defaultMerge    = 2
	defaultTemporal = 2
)

// SmartResize is qwen-vl-utils' smart_resize: (height, width) rounded to
// multiples of factor (half to even, at least one factor), then scaled
// into [minPixels, maxPixels] keeping the aspect ratio. An aspect ratio
// above 200 is an error, as there.
func SmartResize(height, width, factor, minPixels, maxPixels int) (int, int, error) {
	return smartResize(height, width, factor, float64(minPixels), float64(maxPixels))
}

// smartResize takes float bounds: the video path computes its maximum as
// a float and compares with it unrounded.
func smartResize(height, width, factor int, minPixels, maxPixels float64) (int, int, error) {
	if height <= 0 || width <= 0 || factor <= 0 {
		return 0, 0, fmt.Errorf("qwen3vl: cannot resize a %dx%d (HxW) image", height, width)
	}
	if float64(max(height, width))/float64(min(height, width)) > maxAspectRatio {
		return 0, 0, fmt.Errorf("qwen3vl: image %dx%d (HxW) has an aspect ratio above %d, which the reference rejects", height, width, maxAspectRatio)
	}
	h, w, f := float64(height), float64(width), float64(factor)
	hBar := max(factor, int(math.RoundToEven(h/f))*factor)
	wBar := max(factor, int(math.RoundToEven(w/f))*factor)
	switch {
	case float64(hBar*wBar) > maxPixels:
		beta := math.Sqrt(h * w / maxPixels)
		hBar = int(math.Floor(h/beta/f)) * factor
		wBar = int(math.Floor(w/beta/f)) * factor
	case float64(hBar*wBar) < minPixels:
		beta := math.Sqrt(minPixels / (h * w))
		hBar = int(math.Ceil(h*beta/f)) * factor
		wBar = int(math.Ceil(w*beta/f)) * factor
	}
	if hBar <= 0 || wBar <= 0 {
		return 0, 0, fmt.Errorf("qwen3vl: image %dx%d (HxW) cannot fit %.0f pixels in multiples of %d", height, width, maxPixels, factor)
	}
	return hBar, wBar, nil
}

// Processor turns images and videos into Qwen3-VL pixel values the way
// Qwen3-VL-Embedding does. It is safe for concurrent use.
type Processor struct {
	patch *qwen2vl.ImageProcessor // normalise and cut patches, no resize
	// MinPixels and MaxPixels bound an image after resizing.
	MinPixels, MaxPixels int
	// MaxFrames sub-samples a longer list of frames (truncating linspace).
	MaxFrames int
	// TotalPixels bounds a video's pixels over all its frames.
	TotalPixels int
}

// NewProcessor makes a processor from the checkpoint's
// preprocessor_config.json settings (patch geometry, mean and std) with
// the embedder's pixel budget.
func NewProcessor(pcfg qwen2vl.ImageProcessorConfig) (*Processor, error) {
	pcfg.DoResize = false
	pcfg.FusedNormalize = true // Qwen2VLImageProcessorFast and Qwen3VLVideoProcessor
	p, err := qwen2vl.NewImageProcessor(pcfg)
	if err != nil {
		return nil, err
	}
	return &Processor{patch: p, MinPixels: MinPixels, MaxPixels: MaxPixels, MaxFrames: MaxFrames, TotalPixels: MaxTotalPixels}, nil
}

func (p *Processor) factor() int { return p.patch.Config().Factor() }

// fetch is qwen-vl-utils' fetch_image: RGBA composited on white, resized
// with Pillow's bicubic to the smart_resize size of the given factor.
func fetch(img image.Image, factor, minPixels, maxPixels int) (*images.RGB, error) {
	if img == nil || img.Bounds().Empty() {
		return nil, errors.New("qwen3vl: image decodes to nothing")
	}
	rgb := images.OnWhite(img)
	h, w, err := SmartResize(rgb.Height, rgb.Width, factor, minPixels, maxPixels)
	if err != nil {
		return nil, err
	}
	return qwen2vl.Resize(rgb, w, h, qwen2vl.ResampleBicubic)
}

// Image is one processed image: pixel values and grid (T = 1).
func (p *Processor) Image(img image.Image) (*qwen2vl.ProcessedImage, error) {
	rgb, err := fetch(img, p.factor(), p.MinPixels, p.MaxPixels)
	if err != nil {
		return nil, err
	}
	return p.patch.PreprocessRGB(rgb)
}

// SampleFrames is the embedder's sample_frames: at most max frames,
// indices np.linspace(0, n-1, max) truncated to integers.
func SampleFrames(n, maxFrames int) []int {
	idx := make([]int, 0, min(n, max(maxFrames, 0)))
	if maxFrames <= 0 || n <= maxFrames {
		for i := 0; i < n; i++ {
			idx = append(idx, i)
		}
		return idx
	}
	if maxFrames == 1 {
		return []int{0}
	}
	step := float64(n-1) / float64(maxFrames-1)
	for i := 0; i < maxFrames; i++ {
		idx = append(idx, int(float64(i)*step))
	}
	return idx
}

// Video is a processed video: pixel values of all frame pairs (grid T =
// pairs) and the timestamp of each pair.
type Video struct {
	*qwen2vl.ProcessedImage
	Seconds []float64
}

// Video processes a list of frames as qwen-vl-utils 0.0.14 does: sampled
// to MaxFrames, each frame fetched as an image with twice the factor (64,
// the release's bug: it passes the factor where the patch size is
// expected) and a 16,384-pixel floor, the count padded to even with the
// last frame, then all frames resized with torchvision's antialiased
// bicubic to the smart_resize size (factor 32, at least 128 tokens a
// frame, at most min(768 tokens, TotalPixels/frames*2)) of the first.
// Timestamps are those of frames at 2 fps, averaged per pair.
func (p *Processor) Video(frames []image.Image) (*Video, error) {
	if len(frames) == 0 {
		return nil, errors.New("qwen3vl: video without frames")
	}
	f := p.factor()
	bug := 2 * f
	var rgbs []*images.RGB
	for k, i := range SampleFrames(len(frames), p.MaxFrames) {
		rgb, err := fetch(frames[i], bug, imageMinTokens*bug*bug, imageMaxTokens*bug*bug)
		if err != nil {
			return nil, fmt.Errorf("qwen3vl: video frame %d: %w", i, err)
		}
		if k > 0 && (rgb.Width != rgbs[0].Width || rgb.Height != rgbs[0].Height) {
			// The reference stacks the frames and fails the same way.
			return nil, fmt.Errorf("qwen3vl: video frame %d resizes to %dx%d, frame 0 to %dx%d (HxW): frames must share a size", i, rgb.Height, rgb.Width, rgbs[0].Height, rgbs[0].Width)
		}
		rgbs = append(rgbs, rgb)
	}
	for len(rgbs)%temporalFactor != 0 {
		rgbs = append(rgbs, rgbs[len(rgbs)-1])
	}
	n := len(rgbs)
	minPx := videoMinTokens * f * f
	maxPx := max(min(float64(FrameMaxPixels), float64(p.TotalPixels)/float64(n)*temporalFactor), float64(int(float64(minPx)*1.05)))
	h, w, err := smartResize(rgbs[0].Height, rgbs[0].Width, f, float64(minPx), maxPx)
	if err != nil {
		return nil, fmt.Errorf("qwen3vl: video: %w", err)
	}
	resized := make([]*images.RGB, n)
	for i, r := range rgbs {
		if i > 0 && r == rgbs[i-1] {
			resized[i] = resized[i-1] // the padding copy of the last frame
			continue
		}
		if resized[i], err = images.ResizeTorchBicubicAA(r, w, h); err != nil {
			return nil, fmt.Errorf("qwen3vl: video frame %d: %w", i, err)
		}
	}
	pi, err := p.patch.PreprocessVideo(resized)
	if err != nil {
		return nil, err
	}
	v := &Video{ProcessedImage: pi}
	for k := 0; k < n; k += temporalFactor {
		v.Seconds = append(v.Seconds, (float64(k)/frameListFPS+float64(k+temporalFactor-1)/frameListFPS)/2)
	}
	return v, nil
}
