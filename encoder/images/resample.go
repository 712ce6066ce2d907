package images

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Pillow's convolution resampler (libImaging/Resample.c, 8-bit path), which
// Image.resize uses for every filter but NEAREST and which the reference
// processor reaches through transformers.image_transforms.resize. Written
// from the algorithm's description, reproducing its arithmetic:
//
//   - separable: a horizontal pass into a uint8 temporary image, then a
//     vertical pass; a pass is skipped when its dimension does not change;
//   - for output index i the filter is centred at (i+0.5)*scale in input
//     coordinates, scale = in/out; when downscaling, the kernel is stretched
//     by scale (support and argument), so it averages instead of aliasing;
//   - taps run from int(center-support+0.5) to int(center+support+0.5),
//     clipped to the image, weights normalised to sum 1;
//   - weights become fixed point with 22 fractional bits, rounded half away
//     from zero; each output sums pixel*weight in 32-bit integers starting
//     at 0.5 (1<<21), shifts right by 22 (floor) and clamps to 0..255.
//
// Because every intermediate is an integer or a float64 computed in the same
// order, the output equals Pillow's byte for byte.

// Fixed-point precision of the 8-bit path: 32 bits minus 8 for the pixel and
// 2 for the overshoot of kernels with negative lobes.
const resamplePrecisionBits = 32 - 8 - 2

type resampleFilter struct {
	fn      func(float64) float64
	support float64
}

// The kernels, with products pinned by explicit float64 conversions: Go may
// otherwise fuse x*y+z into an FMA on some platforms, rounding differently
// from the C compiled without FMA.

func boxKernel(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func bilinearKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// bicubicKernel is Keys' cubic convolution with a = -0.5.
func bicubicKernel(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64((a+2)*x) - (a + 3)
		t = float64(t * x)
		return float64(t*x) + 1
	}
	if x < 2 {
		t := float64((x-5)*x) + 8
		t = float64(t*x) - 4
		return t * a
	}
	return 0
}

// hammingKernel uses Pillow's single-precision constants 0.54f and 0.46f.
func hammingKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x = x * math.Pi
	return math.Sin(x) / x * (float64(float32(0.54)) + float64(float64(float32(0.46))*math.Cos(x)))
}

func sincKernel(x float64) float64 {
	if x == 0 {
		return 1
	}
	x = x * math.Pi
	return math.Sin(x) / x
}

func lanczosKernel(x float64) float64 {
	if -3 <= x && x < 3 {
		return sincKernel(x) * sincKernel(x/3)
	}
	return 0
}

func filterFor(r Resample) (resampleFilter, error) {
	switch r {
	case ResampleBox:
		return resampleFilter{boxKernel, 0.5}, nil
	case ResampleBilinear:
		return resampleFilter{bilinearKernel, 1}, nil
	case ResampleHamming:
		return resampleFilter{hammingKernel, 1}, nil
	case ResampleBicubic:
		return resampleFilter{bicubicKernel, 2}, nil
	case ResampleLanczos:
		return resampleFilter{lanczosKernel, 3}, nil
	case ResampleNearest:
		// Pillow resizes with NEAREST through its affine transform, not
		// this convolution; no Qwen2-VL configuration uses it.
		return resampleFilter{}, fmt.Errorf("images: resample %v is not supported (use %v)", r, ResampleBicubic)
	}
	return resampleFilter{}, fmt.Errorf("images: unknown resample filter %d", int(r))
}

// resampleCoeffs are the fixed-point taps of one pass: output i reads
// count[i] inputs starting at first[i] with weights k[i*ksize:].
type resampleCoeffs struct {
	ksize        int
	first, count []int
	k            []int32
}

func precomputeCoeffs(inSize, outSize int, f resampleFilter) resampleCoeffs {
	// The box is (0, 0, in_w, in_h): in0 = 0 and in1 - in0 = inSize, exact
	// in Pillow's float box.
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := f.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := resampleCoeffs{ksize: ksize, first: make([]int, outSize), count: make([]int, outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := float64((float64(xx) + 0.5) * scale)
		// C casts truncate toward zero, as Go's conversions do.
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = f.fn((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			// Round half away from zero into 22 fractional bits.
			if v < 0 {
				c.k[xx*ksize+x] = int32(float64(v*(1<<resamplePrecisionBits)) - 0.5)
			} else {
				c.k[xx*ksize+x] = int32(float64(v*(1<<resamplePrecisionBits)) + 0.5)
			}
		}
		c.first[xx], c.count[xx] = xmin, xmax
	}
	return c
}

// clipFixed turns a fixed-point accumulator into a byte: floor, then clamp.
func clipFixed(ss int32) uint8 {
	v := ss >> resamplePrecisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// PassOrder selects which Pillow version's pass order Resize reproduces.
// The two passes round to uint8 in between, so the order changes the output
// (by up to ~11 levels on real images) when both dimensions change.
type PassOrder int

const (
	// PassOrderPillow12 always runs the horizontal pass first, as Pillow
	// up to 12.x does (and so the environment VLM2Vec ran in). The default.
	PassOrderPillow12 PassOrder = iota
	// PassOrderPillow13 runs the vertical pass first when the height
	// shrinks by more than twice as many pixels as the width does, as
	// Pillow 13.0 does.
	PassOrderPillow13
)

// Resize resizes src to w x h exactly as Pillow (up to 12.x)'s
// Image.resize((w, h), resample=filter) does for an "RGB" image
// (reducing_gap unset, no box).
func Resize(src *RGB, w, h int, filter Resample) (*RGB, error) {
	return ResizeOrdered(src, w, h, filter, PassOrderPillow12)
}

// ResizeOrdered is Resize with the pass order of the given Pillow version.
func ResizeOrdered(src *RGB, w, h int, filter Resample, order PassOrder) (*RGB, error) {
	if src == nil || src.Width <= 0 || src.Height <= 0 || len(src.Pix) != 3*src.Width*src.Height {
		return nil, fmt.Errorf("images: resize of an empty or malformed image")
	}
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("images: resize to %dx%d", w, h)
	}
	f, err := filterFor(filter)
	if err != nil {
		return nil, err
	}
	if w == src.Width && h == src.Height {
		// Image.resize returns a copy when the size does not change.
		return &RGB{Width: w, Height: h, Pix: append([]uint8(nil), src.Pix...)}, nil
	}
	vert := precomputeCoeffs(src.Height, h, f)
	if order == PassOrderPillow13 && src.Height-h > 0 && src.Height-h > 2*(src.Width-w) {
		// Vertical pass on whole rows, then horizontal.
		cur := src
		if h != src.Height {
			cur = resampleVertical(cur, h, 0, vert)
		}
		if w != src.Width {
			cur = resampleHorizontal(cur, w, 0, h, precomputeCoeffs(src.Width, w, f))
		}
		return cur, nil
	}
	cur := src
	rowOffset := 0
	if w != src.Width {
		// Only the source rows the vertical pass reads are resampled.
		first := vert.first[0]
		last := vert.first[h-1] + vert.count[h-1]
		cur = resampleHorizontal(src, w, first, last, precomputeCoeffs(src.Width, w, f))
		rowOffset = first
	}
	if h != src.Height {
		cur = resampleVertical(cur, h, rowOffset, vert)
	}
	return cur, nil
}

// parallelRows runs fn over [0, n) in contiguous chunks on up to GOMAXPROCS
// goroutines when the work (n rows of cost each) is worth it. Rows are
// independent, so the result does not depend on the split.
func parallelRows(n, cost int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*cost < 1<<18 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// resampleHorizontal resamples source rows [y0, y1) to width w.
func resampleHorizontal(src *RGB, w, y0, y1 int, c resampleCoeffs) *RGB {
	out := NewRGB(w, y1-y0)
	parallelRows(y1-y0, w*c.ksize, func(lo, hi int) { resampleHorizontalRows(src, out, y0, lo, hi, c) })
	return out
}

func resampleHorizontalRows(src, out *RGB, y0, lo, hi int, c resampleCoeffs) {
	w := out.Width
	for yy := lo; yy < hi; yy++ {
		in := src.Pix[3*(yy+y0)*src.Width : 3*(yy+y0+1)*src.Width]
		dst := out.Pix[3*yy*w : 3*(yy+1)*w]
		for xx := 0; xx < w; xx++ {
			k := c.k[xx*c.ksize : xx*c.ksize+c.count[xx]]
			px := in[3*c.first[xx]:]
			ss0, ss1, ss2 := int32(1<<(resamplePrecisionBits-1)), int32(1<<(resamplePrecisionBits-1)), int32(1<<(resamplePrecisionBits-1))
			for x, kx := range k {
				ss0 += int32(px[3*x]) * kx
				ss1 += int32(px[3*x+1]) * kx
				ss2 += int32(px[3*x+2]) * kx
			}
			dst[3*xx], dst[3*xx+1], dst[3*xx+2] = clipFixed(ss0), clipFixed(ss1), clipFixed(ss2)
		}
	}
}

// resampleVertical resamples to height h; src row r holds source row
// r+rowOffset (the horizontal pass keeps only the rows needed).
func resampleVertical(src *RGB, h, rowOffset int, c resampleCoeffs) *RGB {
	out := NewRGB(src.Width, h)
	parallelRows(h, src.Width*c.ksize, func(lo, hi int) { resampleVerticalRows(src, out, rowOffset, lo, hi, c) })
	return out
}

func resampleVerticalRows(src, out *RGB, rowOffset, lo, hi int, c resampleCoeffs) {
	stride := 3 * src.Width
	for yy := lo; yy < hi; yy++ {
		k := c.k[yy*c.ksize : yy*c.ksize+c.count[yy]]
		base := (c.first[yy] - rowOffset) * stride
		dst := out.Pix[yy*stride : (yy+1)*stride]
		for i := 0; i < stride; i++ {
			ss := int32(1 << (resamplePrecisionBits - 1))
			for y, ky := range k {
				ss += int32(src.Pix[base+y*stride+i]) * ky
			}
			dst[i] = clipFixed(ss)
		}
	}
}
