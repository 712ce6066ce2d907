package mmeb

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// metaColors gives each meta-task a bar colour (colour-blind-safe palette).
var metaColors = map[Meta]color.RGBA{
	MetaCLS: {0x00, 0x72, 0xb2, 0xff}, MetaVQA: {0xe6, 0x9f, 0x00, 0xff},
	MetaRET: {0x00, 0x9e, 0x73, 0xff}, MetaVG: {0xcc, 0x79, 0xa7, 0xff},
	MetaVCLS: {0x56, 0xb4, 0xe9, 0xff}, MetaVQA2: {0xf0, 0xe4, 0x42, 0xff},
	MetaVRET: {0x00, 0x9e, 0x73, 0xff}, MetaVMRET: {0xd5, 0x5e, 0x00, 0xff},
	MetaVDRv1: {0x00, 0x72, 0xb2, 0xff}, MetaVDRv2: {0x56, 0xb4, 0xe9, 0xff},
	MetaVR: {0xe6, 0x9f, 0x00, 0xff}, MetaVDOOD: {0xcc, 0x79, 0xa7, 0xff},
}

// PlotPNG draws a horizontal bar chart of per-dataset main scores (×100),
// one bar per result coloured by meta-task, with the value at the bar's
// end, and writes it as PNG. It uses only the standard library and the
// basicfont face, so it needs no system fonts.
func PlotPNG(w io.Writer, title string, results []*Result) error {
	if len(results) == 0 {
		return fmt.Errorf("mmeb: nothing to plot")
	}
	face := basicfont.Face7x13
	const (
		charW  = 7
		rowH   = 18
		barH   = 12
		top    = 40
		right  = 60
		plotW  = 500
		bottom = 50
	)
	labelW := 0
	for _, r := range results {
		if n := len(r.Task.Name) * charW; n > labelW {
			labelW = n
		}
	}
	left := labelW + 16
	width := left + plotW + right
	height := top + rowH*len(results) + bottom
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	black := image.NewUniform(color.Black)
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}

	text := func(x, y int, s string, c image.Image) {
		d := font.Drawer{Dst: img, Src: c, Face: face, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	text(left, 20, title, black)

	// Grid lines and ticks every 20 points.
	axisY := top + rowH*len(results)
	for v := 0; v <= 100; v += 20 {
		x := left + v*plotW/100
		for y := top - 4; y < axisY; y++ {
			img.Set(x, y, grey)
		}
		s := fmt.Sprint(v)
		text(x-len(s)*charW/2, axisY+16, s, black)
	}
	for x := left; x <= left+plotW; x++ {
		img.Set(x, axisY, color.Black)
	}

	for i, r := range results {
		y := top + i*rowH
		v := r.Main() * 100
		if v < 0 {
			v = 0
		}
		if v > 100 {
			v = 100
		}
		text(left-8-len(r.Task.Name)*charW, y+barH, r.Task.Name, black)
		c, ok := metaColors[r.Task.Meta]
		if !ok {
			c = color.RGBA{0x80, 0x80, 0x80, 0xff}
		}
		bw := int(v * plotW / 100)
		draw.Draw(img, image.Rect(left, y+2, left+bw, y+2+barH), image.NewUniform(c), image.Point{}, draw.Src)
		text(left+bw+4, y+barH, fmt.Sprintf("%.1f", v), black)
	}

	// Legend of the meta-tasks present.
	x := left
	seen := map[Meta]bool{}
	for _, r := range results {
		m := r.Task.Meta
		if seen[m] || m == "" {
			continue
		}
		seen[m] = true
		c := metaColors[m]
		ly := axisY + 26
		draw.Draw(img, image.Rect(x, ly, x+10, ly+10), image.NewUniform(c), image.Point{}, draw.Src)
		label := metaLabel(m)
		text(x+14, ly+10, label, black)
		x += 14 + len(label)*charW + 16
	}
	return png.Encode(w, img)
}
