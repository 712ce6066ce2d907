// Package images decodes image files into RGB the way the reference
// preprocessing sees them: Pillow's Image.open(...).convert("RGB").
//
// Supported formats: JPEG, PNG, GIF, BMP, TIFF and WebP. Alpha is dropped
// without compositing, grayscale is replicated, palettes are looked up,
// CMYK uses Pillow's formula, 16-bit grayscale is clipped to 255 (Pillow's
// own quirk) and 16-bit colour keeps the high byte. Lossless formats match
// Pillow exactly; JPEG and lossy WebP differ by the decoders' IDCT and
// chroma upsampling (bounds measured in the tests).
//
// Dimensions are checked before any pixel is decoded, so a decompression
// bomb costs a header read, not gigabytes.
package images

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"

	_ "image/gif"  // registers GIF
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG

	_ "golang.org/x/image/bmp"  // registers BMP
	_ "golang.org/x/image/tiff" // registers TIFF
	_ "golang.org/x/image/webp" // registers WebP
)

// DefaultMaxPixels is Pillow's DecompressionBombError threshold
// (2 x Image.MAX_IMAGE_PIXELS): anything Pillow would open, we open.
const DefaultMaxPixels = 178_956_970

// DefaultMaxBytes bounds the encoded file size.
const DefaultMaxBytes = 512 << 20

// Limits bounds what Decode accepts. Zero fields take the defaults.
type Limits struct {
	MaxPixels int64 // width x height
	MaxBytes  int64 // encoded size
}

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// ErrTooLarge reports an image over the configured limits.
var ErrTooLarge = errors.New("images: image exceeds the size limit")

// pngIEND is the PNG end chunk: length 0, "IEND", its CRC.
var pngIEND = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82}

// ErrEmpty reports an image with no pixels.
var ErrEmpty = errors.New("images: image has no pixels")

// DecodeFile decodes the image at path into opaque RGB.
func DecodeFile(path string, lim Limits) (*image.RGBA, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := Decode(f, lim)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return img, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	return f, nil
}

// Decode reads an encoded image and returns it as opaque RGB (every alpha
// is 255, so the RGBA's premultiplied values are the plain RGB values).
func Decode(r io.Reader, lim Limits) (img *image.RGBA, err error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: encoded size over %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("images: cannot read image header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %s is %dx%d", ErrEmpty, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return nil, fmt.Errorf("%w: %s is %dx%d, over %d pixels", ErrTooLarge, format, cfg.Width, cfg.Height, lim.MaxPixels)
	}
	// Third-party decoders have panicked on crafted input before; a corrupt
	// file must be an error for the caller, not a crash of the process.
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("images: corrupt %s data: %v", format, p)
		}
	}()
	src, _, err := image.Decode(bufio.NewReader(bytes.NewReader(data)))
	if err != nil && format == "png" && !bytes.HasSuffix(data, pngIEND) {
		// Pillow stops reading a PNG after its image data and never needs
		// the IEND chunk; Go's decoder insists on it. A file without one
		// decodes as if it were there (a truncated IDAT still fails).
		src, _, err = image.Decode(bytes.NewReader(append(append([]byte(nil), data...), pngIEND...)))
	}
	if err != nil {
		return nil, fmt.Errorf("images: corrupt %s data: %w", format, err)
	}
	if p, ok := src.(*image.Paletted); ok && format == "gif" && p.Rect != image.Rect(0, 0, cfg.Width, cfg.Height) {
		src = gifScreen(p, cfg.Width, cfg.Height)
	}
	if b := src.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("images: %s header says %dx%d but decoded %dx%d", format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	var out *image.RGBA
	switch yuv, ok := src.(*image.YCbCr); {
	case ok && format == "webp":
		out = webpYUVToRGB(yuv)
	case ok && format == "jpeg":
		out = jpegYCbCrToRGB(yuv)
	default:
		out = ToRGB(src)
	}
	if out.Rect.Empty() {
		return nil, ErrEmpty
	}
	return out, nil
}

// gifScreen places a GIF's first frame, smaller than or offset within the
// logical screen, on a screen-sized canvas the way Pillow (10.x) opens it:
// pixels the frame does not cover are palette index 0.
func gifScreen(frame *image.Paletted, w, h int) *image.Paletted {
	out := image.NewPaletted(image.Rect(0, 0, w, h), frame.Palette)
	r := frame.Rect.Intersect(out.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(out.Pix[out.PixOffset(r.Min.X, y):out.PixOffset(r.Max.X, y)], frame.Pix[frame.PixOffset(r.Min.X, y):frame.PixOffset(r.Max.X, y)])
	}
	return out
}

// ToRGB converts any image to opaque RGB with Pillow's convert("RGB")
// rules. The result's bounds start at (0, 0).
func ToRGB(src image.Image) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	set := func(x, y int, r, g, bl uint8) {
		i := y*out.Stride + 4*x
		out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = r, g, bl, 255
	}
	switch s := src.(type) {
	case *image.RGBA:
		// Premultiplied: undo it, as Pillow stores straight alpha and drops it.
		forEach(b, func(x, y int) {
			c := color.NRGBAModel.Convert(s.RGBAAt(x, y)).(color.NRGBA)
			set(x-b.Min.X, y-b.Min.Y, c.R, c.G, c.B)
		})
	case *image.NRGBA:
		forEach(b, func(x, y int) {
			c := s.NRGBAAt(x, y)
			set(x-b.Min.X, y-b.Min.Y, c.R, c.G, c.B)
		})
	case *image.NRGBA64:
		// Pillow reads 16-bit colour PNGs by keeping the high byte.
		forEach(b, func(x, y int) {
			c := s.NRGBA64At(x, y)
			set(x-b.Min.X, y-b.Min.Y, uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8))
		})
	case *image.Gray:
		forEach(b, func(x, y int) {
			v := s.GrayAt(x, y).Y
			set(x-b.Min.X, y-b.Min.Y, v, v, v)
		})
	case *image.Gray16:
		// Pillow opens 16-bit grayscale as mode I;16 and its RGB conversion
		// clips to 255 instead of scaling: reproduce the quirk.
		forEach(b, func(x, y int) {
			v := uint8(min(s.Gray16At(x, y).Y, 255))
			set(x-b.Min.X, y-b.Min.Y, v, v, v)
		})
	case *image.Paletted:
		pal := make([]color.NRGBA, len(s.Palette))
		for i, c := range s.Palette {
			pal[i] = straight(c)
		}
		forEach(b, func(x, y int) {
			idx := s.ColorIndexAt(x, y)
			var c color.NRGBA
			if int(idx) < len(pal) {
				c = pal[idx]
			}
			set(x-b.Min.X, y-b.Min.Y, c.R, c.G, c.B)
		})
	case *image.CMYK:
		forEach(b, func(x, y int) {
			c := s.CMYKAt(x, y)
			set(x-b.Min.X, y-b.Min.Y, cmykChannel(c.C, c.K), cmykChannel(c.M, c.K), cmykChannel(c.Y, c.K))
		})
	default:
		forEach(b, func(x, y int) {
			c := straight(src.At(x, y))
			set(x-b.Min.X, y-b.Min.Y, c.R, c.G, c.B)
		})
	}
	return out
}

// straight returns a colour's non-premultiplied 8-bit channels. Colours
// that already are straight (NRGBA, NRGBA64) keep their RGB even when fully
// transparent, as Pillow does; premultiplied ones are divided back.
func straight(c color.Color) color.NRGBA {
	switch v := c.(type) {
	case color.NRGBA:
		return v
	case color.NRGBA64:
		return color.NRGBA{uint8(v.R >> 8), uint8(v.G >> 8), uint8(v.B >> 8), uint8(v.A >> 8)}
	}
	return color.NRGBAModel.Convert(c).(color.NRGBA)
}

// cmykChannel is Pillow's CMYK to RGB: (255-c)(255-k)/255, rounded.
func cmykChannel(c, k uint8) uint8 {
	t := uint32(255-c)*uint32(255-k) + 128
	return uint8((t + t>>8) >> 8)
}

func forEach(b image.Rectangle, fn func(x, y int)) {
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			fn(x, y)
		}
	}
}
