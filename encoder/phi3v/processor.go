package phi3v

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/org/vlm2vec/encoder/images"
)

// CropSide is the HD transform's crop size: the CLIP tower's input.
const CropSide = 336

// mergedSide is a crop's feature grid after the 2x2 merge (24 patches / 2).
const mergedSide = 12

// ImageProcessorConfig mirrors preprocessor_config.json (Phi3VImageProcessor).
type ImageProcessorConfig struct {
	ImageProcessorType string     `json:"image_processor_type"`
	ProcessorClass     string     `json:"processor_class"`
	NumCrops           int        `json:"num_crops"`
	NumImgTokens       int        `json:"num_img_tokens"`
	ImageMean          [3]float64 `json:"image_mean"`
	ImageStd           [3]float64 `json:"image_std"`
	DoConvertRGB       bool       `json:"do_convert_rgb"`
	AutoMap            any        `json:"auto_map"`
}

// CLIP's normalisation, the processor's defaults.
var (
	clipMean = [3]float64{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float64{0.26862954, 0.26130258, 0.27577711}
)

// ParseImageProcessorConfig decodes preprocessor_config.json. Absent fields
// take the processor's defaults (num_crops 1, CLIP's mean and std).
func ParseImageProcessorConfig(data []byte) (ImageProcessorConfig, error) {
	c := ImageProcessorConfig{NumCrops: 1, NumImgTokens: 144, ImageMean: clipMean, ImageStd: clipStd, DoConvertRGB: true}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("phi3v: preprocessor_config.json: %w", err)
	}
	if c.ImageProcessorType != "" && c.ImageProcessorType != "Phi3VImageProcessor" {
		return c, fmt.Errorf("phi3v: preprocessor_config.json is for %s, not Phi3VImageProcessor", c.ImageProcessorType)
	}
	if c.NumImgTokens != 144 {
		return c, fmt.Errorf("phi3v: preprocessor_config.json num_img_tokens %d unsupported (144)", c.NumImgTokens)
	}
	if err := validNumCrops(c.NumCrops); err != nil {
		return c, err
	}
	for ch := 0; ch < 3; ch++ {
		if !(c.ImageStd[ch] > 0) || math.IsInf(c.ImageStd[ch], 0) || math.IsNaN(c.ImageMean[ch]) {
			return c, fmt.Errorf("phi3v: preprocessor_config.json image_std must be positive and image_mean finite")
		}
	}
	return c, nil
}

func validNumCrops(n int) error {
	if n < 1 || n > 256 {
		return fmt.Errorf("phi3v: num_crops %d outside 1..256", n)
	}
	return nil
}

// LoadImageProcessorConfig reads a preprocessor_config.json.
func LoadImageProcessorConfig(path string) (ImageProcessorConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ImageProcessorConfig{}, fmt.Errorf("phi3v: %w", err)
	}
	return ParseImageProcessorConfig(data)
}

// HDSize is the size an image of w x h has after the HD transform with
// numCrops: scaled so a whole number of 336-pixel crops spans its longer
// side with at most numCrops crops in all, the shorter side following the
// aspect ratio, then padded to a multiple of 336 (Phi-3-V's
// calc_hd_transform_size). The resized size (before padding) is rw x rh.
func HDSize(w, h, numCrops int) (rw, rh, pw, ph int) {
	transposed := w < h
	if transposed {
		w, h = h, w
	}
	ratio := float64(w) / float64(h)
	scale := 1
	for float64(scale)*math.Ceil(float64(scale)/ratio) <= float64(numCrops) {
		scale++
	}
	scale--
	rw = scale * CropSide
	rh = int(float64(rw) / ratio)
	pw, ph = rw, (rh+CropSide-1)/CropSide*CropSide
	if transposed {
		rw, rh, pw, ph = rh, rw, ph, pw
	}
	return rw, rh, pw, ph
}

// ImageTokens is the number of image tokens of an HD image of ph x pw:
// 144 per crop and for the global image, a separator after each row of
// merged features (12 per crop row, plus 12 for the global image), and the
// one glb_GN separator between the crops and the global image.
func ImageTokens(ph, pw int) int {
	hc, wc := ph/CropSide, pw/CropSide
	return (hc*wc+1)*mergedSide*mergedSide + 1 + (hc+1)*mergedSide
}

// ProcessedImage is one image after the HD transform.
type ProcessedImage struct {
	// Height and Width are the HD size (multiples of 336): the reference's
	// image_sizes.
	Height, Width int
	// Global is the whole image resized to 336x336 (bicubic), and Crops the
	// 336-pixel tiles of the HD image in raster order; each [3][336][336]
	// flattened channel-major, normalised.
	Global []float32
	Crops  [][]float32
}

// Rows and Cols are the crop grid.
func (p *ProcessedImage) Rows() int { return p.Height / CropSide }

// Cols is the number of crop columns.
func (p *ProcessedImage) Cols() int { return p.Width / CropSide }

// Tokens is the image's token count in the prompt.
func (p *ProcessedImage) Tokens() int { return ImageTokens(p.Height, p.Width) }

// ImageProcessor is Phi3VImageProcessor.
type ImageProcessor struct {
	cfg ImageProcessorConfig
	lut [3][256]float32
}

// NewImageProcessor builds a processor for cfg.
func NewImageProcessor(cfg ImageProcessorConfig) (*ImageProcessor, error) {
	if err := validNumCrops(cfg.NumCrops); err != nil {
		return nil, err
	}
	p := &ImageProcessor{cfg: cfg}
	for ch := 0; ch < 3; ch++ {
		// torchvision's ToTensor then Normalize, in float32: v/255, then
		// (x - mean) / std.
		mean, std := float32(cfg.ImageMean[ch]), float32(cfg.ImageStd[ch])
		for v := 0; v < 256; v++ {
			p.lut[ch][v] = (float32(v)/255 - mean) / std
		}
	}
	return p, nil
}

// NumCrops is the crop budget.
func (p *ImageProcessor) NumCrops() int { return p.cfg.NumCrops }

// maxHDPixels bounds the HD image (num_crops 256 of 336² is 28.9M pixels).
const maxHDPixels = 256 * CropSide * CropSide

// Preprocess runs the HD transform on an RGB image: transpose portrait
// images, resize (Pillow bilinear) so whole crops span the longer side,
// pad the shorter side to a multiple of 336 with white (centred), transpose
// back, normalise, cut into crops, and make the global image with
// PyTorch's bicubic interpolation of the normalised HD image.
func (p *ImageProcessor) Preprocess(img *images.RGB) (*ProcessedImage, error) {
	if img == nil || img.Width <= 0 || img.Height <= 0 {
		return nil, fmt.Errorf("phi3v: empty image")
	}
	rw, rh, pw, ph := HDSize(img.Width, img.Height, p.cfg.NumCrops)
	if rw <= 0 || rh <= 0 {
		return nil, fmt.Errorf("phi3v: a %dx%d image is too elongated for the HD transform (it scales to %dx%d)", img.Width, img.Height, rw, rh)
	}
	if pw*ph > maxHDPixels {
		return nil, fmt.Errorf("phi3v: HD size %dx%d exceeds the limit", pw, ph)
	}
	// The reference resizes and pads the transposed image; Pillow's two
	// passes round in between, so the pass order (hence the transposition)
	// changes the bytes.
	transposed := img.Width < img.Height
	src := img
	if transposed {
		src = transpose(img)
		rw, rh, pw, ph = rh, rw, ph, pw
	}
	resized, err := images.Resize(src, rw, rh, images.ResampleBilinear)
	if err != nil {
		return nil, fmt.Errorf("phi3v: %w", err)
	}
	padded := padHeight(resized, ph)
	if transposed {
		padded = transpose(padded)
		pw, ph = ph, pw
	}
	hd := p.normalize(padded)
	out := &ProcessedImage{Height: ph, Width: pw, Global: bicubicTorch(hd, ph, pw, CropSide, CropSide)}
	for r := 0; r < ph/CropSide; r++ {
		for c := 0; c < pw/CropSide; c++ {
			out.Crops = append(out.Crops, cropCHW(hd, ph, pw, r*CropSide, c*CropSide, CropSide))
		}
	}
	return out, nil
}

// normalize converts an image to [3][h*w] float32 planes.
func (p *ImageProcessor) normalize(img *images.RGB) [3][]float32 {
	var planes [3][]float32
	n := img.Width * img.Height
	for ch := 0; ch < 3; ch++ {
		planes[ch] = make([]float32, n)
		for i := 0; i < n; i++ {
			planes[ch][i] = p.lut[ch][img.Pix[3*i+ch]]
		}
	}
	return planes
}

// transpose swaps the axes (Pillow's Image.TRANSPOSE).
func transpose(img *images.RGB) *images.RGB {
	out := images.NewRGB(img.Height, img.Width)
	for y := 0; y < img.Height; y++ {
		for x := 0; x < img.Width; x++ {
			copy(out.Pix[3*(x*out.Width+y):3*(x*out.Width+y)+3], img.Pix[3*(y*img.Width+x):3*(y*img.Width+x)+3])
		}
	}
	return out
}

// padHeight pads an image to height h with white rows, int((h-height)/2)
// above and the rest below (torchvision pad with fill 255).
func padHeight(img *images.RGB, h int) *images.RGB {
	if h == img.Height {
		return img
	}
	out := images.NewRGB(img.Width, h)
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	top := (h - img.Height) / 2
	copy(out.Pix[3*top*img.Width:], img.Pix)
	return out
}

// cropCHW copies the side x side tile at (y0, x0) of planes h x w.
func cropCHW(planes [3][]float32, h, w, y0, x0, side int) []float32 {
	out := make([]float32, 0, 3*side*side)
	for ch := 0; ch < 3; ch++ {
		for y := y0; y < y0+side; y++ {
			out = append(out, planes[ch][y*w+x0:y*w+x0+side]...)
		}
	}
	return out
}

// bicubicTorch resizes float32 planes h x w to oh x ow as PyTorch's
// interpolate(mode="bicubic", align_corners=False) does on the CPU: source
// coordinate scale·(i+0.5)-0.5 in float32, Keys' cubic with a = -0.75 on
// clamped neighbours, the width interpolated within each of four rows and
// then the rows combined, each sum accumulated left to right in float32.
// Returns [3][oh][ow] flattened.
func bicubicTorch(planes [3][]float32, h, w, oh, ow int) []float32 {
	type tap struct {
		idx [4]int
		wt  [4]float32
	}
	taps := func(in, out int) []tap {
		scale := float32(in) / float32(out)
		t := make([]tap, out)
		for i := range t {
			real := scale*(float32(i)+0.5) - 0.5
			f := float32(math.Floor(float64(real)))
			frac := real - f
			t[i].wt = cubicCoeffs(frac)
			for k := 0; k < 4; k++ {
				t[i].idx[k] = min(max(int(f)-1+k, 0), in-1)
			}
		}
		return t
	}
	ty, tx := taps(h, oh), taps(w, ow)
	out := make([]float32, 0, 3*oh*ow)
	for ch := 0; ch < 3; ch++ {
		src := planes[ch]
		for oy := 0; oy < oh; oy++ {
			yt := ty[oy]
			for ox := 0; ox < ow; ox++ {
				xt := tx[ox]
				var acc float32
				for a := 0; a < 4; a++ {
					row := src[yt.idx[a]*w:]
					var r float32
					for b := 0; b < 4; b++ {
						r += row[xt.idx[b]] * xt.wt[b]
					}
					acc += r * yt.wt[a]
				}
				out = append(out, acc)
			}
		}
	}
	return out
}

// cubicCoeffs are the four weights of Keys' cubic convolution (a = -0.75)
// at fractional offset t, as PyTorch computes them in float32.
func cubicCoeffs(t float32) [4]float32 {
	const a = float32(-0.75)
	conv1 := func(x float32) float32 { return ((a+2)*x-(a+3))*x*x + 1 }
	conv2 := func(x float32) float32 { return ((a*x-5*a)*x+8*a)*x - 4*a }
	return [4]float32{conv2(t + 1), conv1(t), conv1(1 - t), conv2(2 - t)}
}
