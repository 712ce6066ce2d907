package images

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"io"
)

// DecodeKeepAlpha is Decode for preprocessing that treats transparency
// itself (Qwen3-VL's composites RGBA on white): an image Pillow opens in
// mode RGBA (a PNG of colour type 6, 8 or 16 bits) comes back as
// *image.NRGBA with its straight alpha; everything else, grey+alpha PNGs
// included (Pillow's LA, whose alpha convert("RGB") drops), as Decode
// returns it.
func DecodeKeepAlpha(r io.Reader, lim Limits) (image.Image, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	opaque, err := Decode(bytes.NewReader(data), lim)
	if err != nil || !pngRGBA(data) {
		return opaque, err
	}
	// Decode has checked the header, the limits and the data already.
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return opaque, nil //nolint:nilerr // a PNG only Decode's IEND repair reads: keep its (opaque) result
	}
	b := src.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	forEach(b, func(x, y int) {
		out.SetNRGBA(x-b.Min.X, y-b.Min.Y, straight(src.At(x, y)))
	})
	return out, nil
}

// pngRGBA reports a PNG whose IHDR says colour type 6 (RGB + alpha).
func pngRGBA(data []byte) bool {
	const sig = "\x89PNG\r\n\x1a\n"
	return len(data) > 25 && string(data[:8]) == sig && string(data[12:16]) == "IHDR" && data[25] == 6
}

// DecodeFileKeepAlpha is DecodeKeepAlpha of the file at path.
func DecodeFileKeepAlpha(path string, lim Limits) (image.Image, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := DecodeKeepAlpha(f, lim)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return img, nil
}

// OnWhite converts img to RGB, compositing an image with straight alpha
// (*image.NRGBA, *image.NRGBA64) on a white background the way Pillow's
// paste(img, mask=alpha) onto white does it: per channel
// (255·(255-a) + c·a) / 255 rounded with Pillow's DIV255. Other images
// convert as NewRGBFromImage does.
func OnWhite(img image.Image) *RGB {
	var at func(x, y int) color.NRGBA
	switch s := img.(type) {
	case *image.NRGBA:
		at = s.NRGBAAt
	case *image.NRGBA64:
		at = func(x, y int) color.NRGBA { return straight(s.NRGBA64At(x, y)) }
	default:
		return NewRGBFromImage(img)
	}
	b := img.Bounds()
	out := NewRGB(b.Dx(), b.Dy())
	k := 0
	forEach(b, func(x, y int) {
		c := at(x, y)
		a := uint32(c.A)
		for _, v := range [3]uint8{c.R, c.G, c.B} {
			t := 255*(255-a) + uint32(v)*a + 128
			out.Pix[k] = uint8((t>>8 + t) >> 8)
			k++
		}
	})
	return out
}
