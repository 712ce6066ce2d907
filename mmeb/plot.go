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

// modelColors colours the models of a table plot, in order.
var modelColors = []color.RGBA{
	{0x00, 0x72, 0xb2, 0xff}, {0xe6, 0x9f, 0x00, 0xff}, {0x00, 0x9e, 0x73, 0xff}, {0xcc, 0x79, 0xa7, 0xff},
	{0xd5, 0x5e, 0x00, 0xff}, {0x56, 0xb4, 0xe9, 0xff}, {0xf0, 0xe4, 0x42, 0xff}, {0x00, 0x00, 0x00, 0xff},
}

// bar is one horizontal bar: a row label (drawn only when not empty), a
// value in [0, 100], its colour and the text written at its end.
type bar struct {
	label string
	value float64
	c     color.RGBA
	note  string
	gap   bool // extra space above: a new group starts
}

// legendItem is one colour key below the axis.
type legendItem struct {
	label string
	c     color.RGBA
}

// PlotPNG draws a horizontal bar chart of per-dataset main scores (×100),
// one bar per result coloured by meta-task, with the value at the bar's
// end, and writes it as PNG. It uses only the standard library and the
// basicfont face, so it needs no system fonts.
func PlotPNG(w io.Writer, title string, results []*Result) error {
	if len(results) == 0 {
		return fmt.Errorf("mmeb: nothing to plot")
	}
	var bars []bar
	var legend []legendItem
	seen := map[Meta]bool{}
	for _, r := range results {
		c, ok := metaColors[r.Task.Meta]
		if !ok {
			c = color.RGBA{0x80, 0x80, 0x80, 0xff}
		}
		v := r.Main() * 100
		bars = append(bars, bar{label: r.Task.Name, value: v, c: c, note: fmt.Sprintf("%.1f", v)})
		if m := r.Task.Meta; m != "" && !seen[m] {
			seen[m] = true
			legend = append(legend, legendItem{metaLabel(m), c})
		}
	}
	return drawBars(w, title, "main score (%): hit@1, or NDCG@5 for visual documents", bars, legend)
}

// PlotTablePNG draws the MMEB-V2 aggregate table of one or more models
// (the rows of V2Table) as grouped horizontal bars: one group per column
// of the table (I-CLS … All), one bar per model. Incomplete groups carry
// their dataset count ("12/36") at the bar's end.
func PlotTablePNG(w io.Writer, title string, models []string, tables [][]Aggregate) error {
	if len(models) == 0 || len(models) != len(tables) {
		return fmt.Errorf("mmeb: table plot needs one table per model (%d models, %d tables)", len(models), len(tables))
	}
	var bars []bar
	var legend []legendItem
	for mi, name := range models {
		legend = append(legend, legendItem{name, modelColors[mi%len(modelColors)]})
	}
	for gi, col := range tables[0] {
		for mi := range models {
			if len(tables[mi]) != len(tables[0]) {
				return fmt.Errorf("mmeb: table plot: model %q has %d columns, %q %d", models[mi], len(tables[mi]), models[0], len(tables[0]))
			}
			a := tables[mi][gi]
			b := bar{c: modelColors[mi%len(modelColors)], gap: mi == 0 && gi > 0, note: a.String()}
			if mi == 0 {
				b.label = fmt.Sprintf("%s (%d)", col.Label, col.Of)
			}
			if a.N > 0 {
				b.value = a.Rounded()
			} else {
				b.note = "no scores" // the table's dash is not in the plot's font
			}
			bars = append(bars, b)
		}
	}
	return drawBars(w, title, "mean main score (%): hit@1 for image and video, NDCG@5 for visual documents", bars, legend)
}

func drawBars(w io.Writer, title, xTitle string, bars []bar, legend []legendItem) error {
	face := basicfont.Face7x13
	const (
		charW  = 7
		rowH   = 18
		gapH   = 8
		barH   = 12
		top    = 40
		right  = 90
		plotW  = 500
		bottom = 70
	)
	labelW := 0
	rows := 0
	for _, b := range bars {
		labelW = max(labelW, len(b.label)*charW)
		rows += rowH
		if b.gap {
			rows += gapH
		}
	}
	left := labelW + 16
	width := max(left+plotW+right, len(xTitle)*charW+left)
	height := top + rows + bottom
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	black := image.NewUniform(color.Black)
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	text := func(x, y int, s string, c image.Image) {
		d := font.Drawer{Dst: img, Src: c, Face: face, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	text(left, 20, title, black)

	// Grid lines and ticks every 20 points, then the axis title.
	axisY := top + rows
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
	text(left, axisY+34, xTitle, black)

	y := top
	for _, b := range bars {
		if b.gap {
			y += gapH
		}
		v := min(max(b.value, 0), 100)
		if b.label != "" {
			text(left-8-len(b.label)*charW, y+barH, b.label, black)
		}
		bw := int(v * plotW / 100)
		draw.Draw(img, image.Rect(left, y+2, left+bw, y+2+barH), image.NewUniform(b.c), image.Point{}, draw.Src)
		text(left+bw+4, y+barH, b.note, black)
		y += rowH
	}

	x := left
	for _, l := range legend {
		ly := axisY + 46
		draw.Draw(img, image.Rect(x, ly, x+10, ly+10), image.NewUniform(l.c), image.Point{}, draw.Src)
		text(x+14, ly+10, l.label, black)
		x += 14 + len(l.label)*charW + 16
	}
	return png.Encode(w, img)
}
