package plot

import (
	"bytes"
	"image/png"
	"testing"
)

func TestLinesDrawsSomething(t *testing.T) {
	var buf bytes.Buffer
	err := Lines(&buf, "loss", "step",
		Series{Name: "loss", X: []float64{1, 2, 3, 4}, Y: []float64{4, 3, 2.5, 1}},
		Series{Name: "hit@1", X: []float64{2, 4}, Y: []float64{0.1, 0.6}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	coloured := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if !(r == g && g == bl) {
				coloured++
			}
		}
	}
	if coloured < 200 {
		t.Fatalf("only %d coloured pixels: the lines were not drawn", coloured)
	}
	if err := Lines(&buf, "x", "y"); err == nil {
		t.Error("no series accepted")
	}
	if err := Lines(&buf, "x", "y", Series{X: []float64{1}, Y: nil}); err == nil {
		t.Error("mismatched series accepted")
	}
}
