package traindata

import (
	"bytes"
	"context"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/vlm2vec/mmeb"
)

func TestSynthesize(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	if err := Synthesize(dir, SynthOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Synthesize (256+64 images): %v", time.Since(start))

	subs, st, err := LoadDir(filepath.Join(dir, "train"), LoadOptions{ImageRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 2 || subs[0].Name != SynthI2T || subs[1].Name != SynthT2I || st.Skipped() != 0 ||
		len(subs[0].Examples) != 256 || len(subs[1].Examples) != 256 {
		t.Fatalf("train: %v", st)
	}
	i2t, t2i := subs[0].Examples[0], subs[1].Examples[0]
	const (
		i2tQuery = "<|image_1|>\nFind an image caption describing the given everyday image.\n"
		t2iStart = "Find me an everyday image that matches the given caption: "
		imgTgt   = "<|image_1|>\nRepresent the given image.\n"
	)
	if i2t.Query != i2tQuery || i2t.QueryImage != filepath.Join(dir, "images/train/00000.png") || i2t.PositiveImage != "" ||
		!strings.HasSuffix(i2t.Positive, " background") || strings.HasSuffix(i2t.Positive, "\n") || !i2t.HasNegative() {
		t.Fatalf("I2T row: %+v", i2t)
	}
	if t2i.Query != t2iStart+i2t.Positive+"\n" || t2i.Positive != imgTgt || t2i.PositiveImage != i2t.QueryImage || t2i.QueryImage != "" {
		t.Fatalf("T2I row: %+v", t2i)
	}
	// Every caption appears, and hard negatives differ from the positive.
	captions := map[string]bool{}
	for k, e := range subs[0].Examples {
		captions[e.Positive] = true
		if e.Negative == e.Positive || e.NegativeImage != "" {
			t.Fatalf("I2T row %d negative %q", k, e.Negative)
		}
		if e2 := subs[1].Examples[k]; e2.HasNegative() && (e2.NegativeImage == e2.PositiveImage || e2.Negative != imgTgt) {
			t.Fatalf("T2I row %d negative %+v", k, e2)
		}
	}
	if len(captions) != len(allCombos()) {
		t.Fatalf("%d distinct captions", len(captions))
	}

	test, st, err := LoadDir(filepath.Join(dir, "test"), LoadOptions{ImageRoot: dir})
	if err != nil || st.Skipped() != 0 || len(test) != 2 || len(test[0].Examples) != 64 || test[0].Examples[0].HasNegative() {
		t.Fatalf("test: %v %v", st, err)
	}
	// Held-out images are not training images.
	if !strings.Contains(test[0].Examples[0].QueryImage, "images/test/") {
		t.Fatal(test[0].Examples[0].QueryImage)
	}

	// Each image shows what its caption says.
	for _, e := range append(subs[0].Examples, test[0].Examples...) {
		checkImage(t, e.QueryImage, e.Positive)
	}

	// The eval copy loads with package mmeb as an MMEB-eval V1 dataset.
	for _, name := range []string{SynthI2T, SynthT2I} {
		task := mmeb.Task{Name: name, Ranking: mmeb.Local, Metric: mmeb.MetricHit1}
		ds, err := mmeb.LoadV1(context.Background(), filepath.Join(dir, "eval", name), dir, task, mmeb.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Queries) != 64 || len(ds.Problems) != 0 {
			t.Fatalf("%s: %d queries, problems %v", name, len(ds.Queries), ds.Problems)
		}
		for _, q := range ds.Queries {
			names := map[string]bool{}
			for _, c := range q.Candidates {
				names[c.Name] = true
			}
			if len(q.Candidates) != 10 || len(names) != 10 {
				t.Fatalf("%s row %d: %d candidates, %d distinct", name, q.Row, len(q.Candidates), len(names))
			}
		}
		q := ds.Queries[0]
		if name == SynthI2T && (q.Item.Text != i2tQuery || q.Candidates[0].Item.Text != test[0].Examples[0].Positive) {
			t.Fatalf("I2T eval row: %+v", q)
		}
		if name == SynthT2I && (q.Item.Text != test[1].Examples[0].Query || q.Candidates[0].Item.Image != test[1].Examples[0].PositiveImage) {
			t.Fatalf("T2I eval row: %+v", q)
		}
	}
}

// checkImage decodes a generated image and checks its background (a
// corner pixel, which no shape reaches) and shape colour (the majority
// vote of the pixels that are not background) against the caption.
func checkImage(t *testing.T, path, caption string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() < 64 || b.Dx() > 160 || b.Dy() < 64 || b.Dy() > 160 {
		t.Fatalf("%s: %v", path, b)
	}
	rgb := func(x, y int) [3]int {
		r, g, bl, _ := img.At(x, y).RGBA()
		return [3]int{int(r >> 8), int(g >> 8), int(bl >> 8)}
	}
	dist := func(a [3]int, r, g, b uint8) int {
		d0, d1, d2 := a[0]-int(r), a[1]-int(g), a[2]-int(b)
		return d0*d0 + d1*d1 + d2*d2
	}
	corner := rgb(b.Min.X, b.Min.Y)
	bg, best := "", 1<<30
	for _, c := range synthBackgrounds {
		if d := dist(corner, c.r, c.g, c.b); d < best {
			bg, best = c.name, d
		}
	}
	votes := map[string]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := rgb(x, y)
			// A shape pixel is nearer to some shape colour than to the
			// background (purple on gray is close, so no fixed threshold).
			name, best := "", dist(p, uint8(corner[0]), uint8(corner[1]), uint8(corner[2]))
			for _, c := range synthColours {
				if d := dist(p, c.r, c.g, c.b); d < best {
					name, best = c.name, d
				}
			}
			if name == "" {
				continue
			}
			votes[name]++
		}
	}
	fg, n := "", 0
	for k, v := range votes {
		if v > n {
			fg, n = k, v
		}
	}
	if n < 50 || !strings.Contains(caption, " "+fg+" ") || !strings.HasSuffix(caption, " "+bg+" background") {
		t.Fatalf("%s: looks like %s (%d px) on %s, caption %q", path, fg, n, bg, caption)
	}
}

func TestSynthesizeDeterministic(t *testing.T) {
	opts := SynthOptions{Seed: 7, Train: 24, Test: 12, Candidates: 5}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := Synthesize(d, opts); err != nil {
			t.Fatal(err)
		}
	}
	opts.Seed = 8
	if err := Synthesize(c, opts); err != nil {
		t.Fatal(err)
	}
	fa, fb, fc := readTree(t, a), readTree(t, b), readTree(t, c)
	if len(fa) != 24+12+6 {
		t.Fatalf("%d files", len(fa))
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Fatalf("%s differs between runs with the same seed", name)
		}
	}
	if bytes.Equal(fa["train/ShapesI2T.jsonl"], fc["train/ShapesI2T.jsonl"]) {
		t.Fatal("another seed gave the same data")
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSynthesizeOptions(t *testing.T) {
	for _, o := range []SynthOptions{{Candidates: 1}, {Candidates: 1000}, {Train: -1}, {Test: 4, Candidates: 6}} {
		if err := Synthesize(t.TempDir(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
