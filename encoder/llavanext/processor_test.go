package llavanext

import (
	"testing"
)

var realPinpoints = [][2]int{{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}}

// TestRealImageTokenCounts: the <image> expansion of llava-v1.6-mistral-7b's
// geometry (crop 336, 24x24 features) for the sizes VLM2Vec feeds it:
// 336x336, its 1344x1344 "high" pre-resize, and a 640x480 photo. Counts
// worked by hand from transformers' select_best_resolution and
// _get_unpadded_features (1176 = 576 + 24·25; 2928 = 576 + 48·49;
// 2340 = 576 + 36·49).
func TestRealImageTokenCounts(t *testing.T) {
	for _, c := range []struct{ h, w, tokens, rows, cols int }{
		{336, 336, 1176, 24, 24},
		{1344, 1344, 2928, 48, 48},
		{480, 640, 2340, 36, 48},
	} {
		l := ImageLayout(c.h, c.w, realPinpoints, 336, 24)
		if l.Tokens() != c.tokens || l.Rows != c.rows || l.Cols != c.cols {
			t.Errorf("%dx%d (HxW): %d tokens, grid %dx%d; want %d, %dx%d", c.h, c.w, l.Tokens(), l.Rows, l.Cols, c.tokens, c.rows, c.cols)
		}
	}
}

func TestSelectBestResolution(t *testing.T) {
	for _, c := range []struct{ h, w, bh, bw int }{
		{336, 336, 336, 672}, // ties keep the earlier pinpoint
		{1344, 1344, 672, 672},
		{480, 640, 672, 672},
		{40, 300, 336, 672}, // small images fit every pinpoint: least waste wins
		{260, 40, 336, 672},
		{2000, 300, 1008, 336},
		{300, 2000, 336, 1008},
	} {
		if bh, bw := SelectBestResolution(c.h, c.w, realPinpoints); bh != c.bh || bw != c.bw {
			t.Errorf("%dx%d: %dx%d, want %dx%d", c.h, c.w, bh, bw, c.bh, c.bw)
		}
	}
}

// TestPackedRows: the token order of one image's features (base crop, then
// the unpadded grid row by row with a newline after each row).
func TestPackedRows(t *testing.T) {
	// 2x1 crops of 2x2 features; keep rows 1..2 of the 4x2 map.
	l := Layout{GridRows: 2, GridCols: 1, Rows: 2, Cols: 2, RowOff: 1, Side: 2}
	got := packedRows(l, 3, 2)
	want := []int32{12, 13, 14, 15, 18, 19, -2, 20, 21, -2}
	if len(got) != l.Tokens() || len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
