// Package plot draws small PNG charts with the standard library and the
// basicfont face (no system fonts, no native libraries): training curves
// here, score bar charts in package mmeb.
package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line: points (X[i], Y[i]).
type Series struct {
	Name string
	X, Y []float64
	// LogY draws the series on a logarithmic axis (positive values only),
	// for losses that fall by orders of magnitude.
	LogY bool
}

var palette = []color.RGBA{{0x00, 0x72, 0xb2, 0xff}, {0xd5, 0x5e, 0x00, 0xff}, {0x00, 0x9e, 0x73, 0xff}, {0xcc, 0x79, 0xa7, 0xff}}

// Lines writes a line chart of the series as PNG. Each series gets its own
// y-range, drawn on the left axis for the first and the right for the
// second, so a loss and an accuracy can share one picture.
func Lines(w io.Writer, title, xLabel string, series ...Series) error {
	if len(series) == 0 || len(series) > 2 {
		return fmt.Errorf("plot: want 1 or 2 series, got %d", len(series))
	}
	const (
		width, height            = 720, 400
		left, right, top, bottom = 70, 70, 36, 44
	)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	text := func(x, y int, s string, c color.Color) {
		d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	text(left, 20, title, color.Black)
	x0, x1 := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("plot: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		for _, x := range s.X {
			x0, x1 = math.Min(x0, x), math.Max(x1, x)
		}
	}
	if math.IsInf(x0, 0) {
		return fmt.Errorf("plot: no points")
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	pw, ph := width-left-right, height-top-bottom
	px := func(x float64) int { return left + int(math.Round((x-x0)/(x1-x0)*float64(pw))) }
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	for i := 0; i <= 5; i++ {
		y := top + i*ph/5
		for x := left; x <= left+pw; x++ {
			img.Set(x, y, grey)
		}
		xv := x0 + float64(i)*(x1-x0)/5
		s := fmt.Sprintf("%.4g", xv)
		text(left+i*pw/5-len(s)*7/2, top+ph+16, s, color.Black)
	}
	text(left+pw/2-len(xLabel)*7/2, height-8, xLabel, color.Black)
	for k, s := range series {
		c := palette[k%len(palette)]
		if s.LogY {
			logY := make([]float64, len(s.Y))
			for i, y := range s.Y {
				logY[i] = math.NaN()
				if y > 0 {
					logY[i] = math.Log10(y)
				}
			}
			s.Y = logY
		}
		y0, y1 := math.Inf(1), math.Inf(-1)
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				y0, y1 = math.Min(y0, y), math.Max(y1, y)
			}
		}
		if math.IsInf(y0, 0) {
			continue
		}
		if y1 == y0 {
			y0, y1 = y0-0.5, y1+0.5
		}
		py := func(y float64) int { return top + ph - int(math.Round((y-y0)/(y1-y0)*float64(ph))) }
		for i := 0; i <= 5; i++ {
			v := y0 + float64(5-i)*(y1-y0)/5
			if s.LogY {
				v = math.Pow(10, v)
			}
			label := fmt.Sprintf("%.3g", v)
			if k == 0 {
				text(left-6-len(label)*7, top+i*ph/5+4, label, c)
			} else {
				text(left+pw+6, top+i*ph/5+4, label, c)
			}
		}
		for i := 1; i < len(s.X); i++ {
			if math.IsNaN(s.Y[i-1]) || math.IsNaN(s.Y[i]) {
				continue
			}
			line(img, px(s.X[i-1]), py(s.Y[i-1]), px(s.X[i]), py(s.Y[i]), c)
		}
		if len(s.X) == 1 {
			draw.Draw(img, image.Rect(px(s.X[0])-2, py(s.Y[0])-2, px(s.X[0])+3, py(s.Y[0])+3), image.NewUniform(c), image.Point{}, draw.Src)
		}
		text(left+pw-220+k*110, 20, "-- "+s.Name, c)
	}
	return png.Encode(w, img)
}

// line draws a 2-pixel-wide segment (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	err := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
