package images

import "image"

// webpYUVToRGB converts a lossy WebP frame the way libwebp (and so Pillow)
// does. VP8 stores BT.601 limited-range YUV, but golang.org/x/image/webp
// returns it as an image.YCbCr, whose conversion assumes full-range JFIF:
// colours would shift by ~8 levels on average. Chroma is upsampled with
// libwebp's "fancy" bilinear filter (weights 9/3/3/1 over the four nearest
// chroma samples), which the default decoder configuration uses.
func webpYUVToRGB(src *image.YCbCr) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	if src.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				putYUV(out, x, y, int(src.Y[yi]), int(src.Cb[ci]), int(src.Cr[ci]))
			}
		}
		return out
	}
	cw, ch := (w+1)/2, (h+1)/2
	chroma := func(plane []uint8, cx, cy int) int {
		cx = min(max(cx, 0), cw-1)
		cy = min(max(cy, 0), ch-1)
		return int(plane[src.COffset(b.Min.X+2*cx, b.Min.Y+2*cy)])
	}
	// Pixel (x, y) lies between chroma samples; its nearest sample gets
	// weight 9, the horizontal and vertical neighbours 3, the diagonal 1.
	up := func(plane []uint8, x, y int) int {
		cx, cy := x/2, y/2
		nx, ny := cx-1, cy-1
		if x%2 == 1 {
			nx = cx + 1
		}
		if y%2 == 1 {
			ny = cy + 1
		}
		return (9*chroma(plane, cx, cy) + 3*chroma(plane, nx, cy) + 3*chroma(plane, cx, ny) + chroma(plane, nx, ny) + 8) >> 4
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yv := int(src.Y[src.YOffset(b.Min.X+x, b.Min.Y+y)])
			putYUV(out, x, y, yv, up(src.Cb, x, y), up(src.Cr, x, y))
		}
	}
	return out
}

// putYUV applies libwebp's fixed-point BT.601 conversion (14-bit
// coefficients, 6 fractional bits kept before the final clip).
func putYUV(out *image.RGBA, x, y, yv, u, v int) {
	mult := func(a, c int) int { return (a * c) >> 8 }
	clip := func(a int) uint8 {
		if a < 0 {
			return 0
		}
		if a >= 256<<6 {
			return 255
		}
		return uint8(a >> 6)
	}
	i := y*out.Stride + 4*x
	out.Pix[i+0] = clip(mult(yv, 19077) + mult(v, 26149) - 14234)
	out.Pix[i+1] = clip(mult(yv, 19077) - mult(u, 6419) - mult(v, 13320) + 8708)
	out.Pix[i+2] = clip(mult(yv, 19077) + mult(u, 33050) - 17685)
	out.Pix[i+3] = 255
}
