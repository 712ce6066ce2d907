package qwen3vl

import "math"

// positionTaps are the bilinear taps of the learned position table for an
// h x w patch grid, in the processor's patch order (2x2 merge windows in
// raster order, patches of a window in raster order): table indices and
// weights, four per patch, computed as transformers'
// fast_pos_embed_interpolate does in float32.
func (b *Backbone) positionTaps(h, w int) ([][4]int32, [][4]float32) {
	g := b.Config.GridSide()
	m := b.Config.VisionConfig.SpatialMergeSize
	hs, ws := linspace32(float32(g-1), h), linspace32(float32(g-1), w)
	idx := make([][4]int32, 0, h*w)
	wts := make([][4]float32, 0, h*w)
	for bh := 0; bh < h/m; bh++ {
		for bw := 0; bw < w/m; bw++ {
			for i := 0; i < m; i++ {
				for j := 0; j < m; j++ {
					y, x := hs[bh*m+i], ws[bw*m+j]
					y0, x0 := int32(y), int32(x) // .int(): truncation
					y1, x1 := min(y0+1, int32(g-1)), min(x0+1, int32(g-1))
					dy, dx := y-float32(y0), x-float32(x0)
					G := int32(g)
					idx = append(idx, [4]int32{y0*G + x0, y0*G + x1, y1*G + x0, y1*G + x1})
					wts = append(wts, [4]float32{(1 - dy) * (1 - dx), (1 - dy) * dx, dy * (1 - dx), dy * dx})
				}
			}
		}
	}
	return idx, wts
}

// linspace32 is torch.linspace(0, end, n) in float32: the step is
// end/(n-1) and the first half counts up from 0, the second half down
// from end, as PyTorch's CPU kernel computes it.
func linspace32(end float32, n int) []float32 {
	out := make([]float32, n)
	if n == 1 {
		return out
	}
	step := end / float32(n-1)
	for i := range out {
		if i < n/2 {
			out[i] = step * float32(i)
		} else {
			// One rounding: PyTorch's vectorised kernel fuses this (FMA).
			out[i] = float32(math.FMA(-float64(step), float64(n-1-i), float64(end)))
		}
	}
	return out
}
