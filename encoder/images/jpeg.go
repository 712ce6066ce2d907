package images

import "image"

// jpegYCbCrToRGB converts a baseline JPEG's YCbCr planes to RGB the way
// libjpeg(-turbo), and so Pillow, does by default: "fancy" triangular chroma
// upsampling and 16-bit fixed-point JFIF conversion. image/jpeg's own
// conversion replicates chroma samples instead, which moves pixels next to
// colour edges by tens of levels. What remains is the IDCT: image/jpeg's
// integer IDCT is not libjpeg's, so luma can still differ by a level or two.
func jpegYCbCrToRGB(src *image.YCbCr) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	var cb, cr []int
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		cb, cr = fancyH2V2(src, src.Cb, w, h), fancyH2V2(src, src.Cr, w, h)
	case image.YCbCrSubsampleRatio422:
		cb, cr = fancyH2V1(src, src.Cb, w, h), fancyH2V1(src, src.Cr, w, h)
	default:
		cb, cr = make([]int, w*h), make([]int, w*h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				cb[y*w+x], cr[y*w+x] = int(src.Cb[ci]), int(src.Cr[ci])
			}
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yv := int(src.Y[src.YOffset(b.Min.X+x, b.Min.Y+y)])
			u, v := cb[y*w+x]-128, cr[y*w+x]-128
			i := y*out.Stride + 4*x
			out.Pix[i+0] = clip8(yv + ((fix(1.40200)*v + half) >> 16))
			out.Pix[i+1] = clip8(yv + ((-fix(0.34414)*u - fix(0.71414)*v + half) >> 16))
			out.Pix[i+2] = clip8(yv + ((fix(1.77200)*u + half) >> 16))
			out.Pix[i+3] = 255
		}
	}
	return out
}

const half = 1 << 15

func fix(x float64) int { return int(x*65536 + 0.5) }

func clip8(v int) uint8 { return uint8(min(max(v, 0), 255)) }

// chromaAt reads a subsampled plane at chroma coordinates, replicating the
// edges as libjpeg's context rows and columns do.
func chromaAt(src *image.YCbCr, plane []uint8, cx, cy, cw, ch, sx, sy int) int {
	cx = min(max(cx, 0), cw-1)
	cy = min(max(cy, 0), ch-1)
	b := src.Bounds()
	return int(plane[src.COffset(b.Min.X+sx*cx, b.Min.Y+sy*cy)])
}

// fancyH2V2 upsamples a 2x2-subsampled plane: each output pixel is
// (9·nearest + 3·horizontal + 3·vertical + 1·diagonal)/16, computed as
// libjpeg does (vertical sums first, alternating rounding +8/+7).
func fancyH2V2(src *image.YCbCr, plane []uint8, w, h int) []int {
	cw, ch := (w+1)/2, (h+1)/2
	out := make([]int, w*h)
	for y := 0; y < h; y++ {
		cy := y / 2
		ny := cy - 1 // the upper output row of a pair leans on the row above
		if y%2 == 1 {
			ny = cy + 1
		}
		colsum := func(cx int) int {
			cx = min(max(cx, 0), cw-1)
			return 3*chromaAt(src, plane, cx, cy, cw, ch, 2, 2) + chromaAt(src, plane, cx, ny, cw, ch, 2, 2)
		}
		for x := 0; x < w; x++ {
			cx := x / 2
			this := colsum(cx)
			var v int
			switch {
			case x%2 == 0 && cx == 0:
				v = (4*this + 8) >> 4
			case x%2 == 0:
				v = (3*this + colsum(cx-1) + 8) >> 4
			case cx == cw-1:
				v = (4*this + 7) >> 4
			default:
				v = (3*this + colsum(cx+1) + 7) >> 4
			}
			out[y*w+x] = v
		}
	}
	return out
}

// fancyH2V1 upsamples a horizontally 2x-subsampled plane: 3/4 nearest +
// 1/4 neighbour, with libjpeg's alternating +1/+2 rounding.
func fancyH2V1(src *image.YCbCr, plane []uint8, w, h int) []int {
	cw := (w + 1) / 2
	out := make([]int, w*h)
	for y := 0; y < h; y++ {
		at := func(cx int) int { return chromaAt(src, plane, cx, y, cw, h, 2, 1) }
		for x := 0; x < w; x++ {
			cx := x / 2
			c := at(cx)
			var v int
			switch {
			case x%2 == 0 && cx == 0:
				v = c
			case x%2 == 0:
				v = (3*c + at(cx-1) + 1) >> 2
			case cx == cw-1:
				v = c
			default:
				v = (3*c + at(cx+1) + 2) >> 2
			}
			out[y*w+x] = v
		}
	}
	return out
}
