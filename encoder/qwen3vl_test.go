package encoder

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/vlm2vec/vectors"
)

// qwen3Dir holds the qwen3vl goldens (scripts/goldens/qwen3vl/make_goldens.py
// runs Qwen3-VL-Embedding's own embedder on transformers 4.57.3).
const qwen3Dir = "qwen3vl/testdata"

type qwen3Row struct {
	Input struct {
		Text        []string `json:"text"`
		Image       []string `json:"image"`
		Video       []string `json:"video"`
		Instruction string   `json:"instruction"`
	} `json:"input"`
	Embedding []float64 `json:"embedding"`
}

func qwen3Case(t *testing.T, name string) []qwen3Row {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(qwen3Dir, "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Name string     `json:"name"`
			Rows []qwen3Row `json:"rows"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases {
		if c.Name == name {
			return c.Rows
		}
	}
	t.Fatalf("no golden case %q", name)
	return nil
}

func qwen3Inputs(rows []qwen3Row) []Input {
	var in []Input
	for _, r := range rows {
		x := Input{Instruction: r.Input.Instruction, Text: strings.Join(r.Input.Text, "")}
		for k, p := range r.Input.Image {
			if k == 0 {
				x.ImagePath = filepath.Join(qwen3Dir, p)
			} else {
				x.MoreImagePaths = append(x.MoreImagePaths, filepath.Join(qwen3Dir, p))
			}
		}
		for _, p := range r.Input.Video {
			x.VideoPaths = append(x.VideoPaths, filepath.Join(qwen3Dir, p))
		}
		in = append(in, x)
	}
	return in
}

// TestQwen3VLEmbeddingThroughEncoder: a Qwen3-VL checkpoint loads with no
// option (family detected from model_type, Qwen3-VL-Embedding's template,
// pixel budget and frame count by default), files decode with alpha kept
// (the RGBA image is composited on white), and Embed reproduces the
// reference embedder's vectors for images, several images and videos given
// as frame files (1e-6; the family's own test states why).
func TestQwen3VLEmbeddingThroughEncoder(t *testing.T) {
	ctx := context.Background()
	e, err := Open(ctx, filepath.Join(qwen3Dir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Family() != "qwen3_vl" || e.Dim() != 40 {
		t.Fatalf("family %q dim %d", e.Family(), e.Dim())
	}
	for _, name := range []string{"images", "videos"} {
		rows := qwen3Case(t, name)
		if name == "videos" {
			// That case ran the embedder with max_frames 6.
			e6, err := Open(ctx, filepath.Join(qwen3Dir, "tiny"), WithVideoFrames(6))
			if err != nil {
				t.Fatal(err)
			}
			defer e6.Close()
			e = e6
		}
		got, err := e.Embed(ctx, qwen3Inputs(rows))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			for k, want := range r.Embedding {
				if d := math.Abs(float64(got[i][k]) - want); d > 1e-6 {
					t.Fatalf("%s row %d component %d: %v, reference %v", name, i, k, got[i][k], want)
				}
			}
		}
	}
}

// TestWithDimensions: Matryoshka truncation keeps the leading components
// of the full embedding, renormalised, for any family; Dim reports it and
// the fingerprint (MMEB cache key) changes with it; too many is an error.
func TestWithDimensions(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(qwen3Dir, "tiny")
	full, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	short, err := Open(ctx, dir, WithDimensions(16))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	in := []Input{{Text: "a red car"}, {Instruction: "Find it", Text: "a blue boat on a lake"}}
	a, err := full.Embed(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := short.Embed(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if short.Dim() != 16 || full.Fingerprint() == short.Fingerprint() {
		t.Errorf("Dim %d, fingerprints equal: %v", short.Dim(), full.Fingerprint() == short.Fingerprint())
	}
	for i := range in {
		want, err := vectors.Truncate(a[i], 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(b[i]) != 16 {
			t.Fatalf("row %d has %d dims", i, len(b[i]))
		}
		for k := range want {
			if math.Abs(float64(b[i][k]-want[k])) > 1e-7 {
				t.Fatalf("row %d component %d: %v, want %v", i, k, b[i][k], want[k])
			}
		}
	}
	if _, err := Open(ctx, dir, WithDimensions(41)); err == nil {
		t.Error("WithDimensions above the model width accepted")
	}
	other, err := Open(ctx, filepath.Join(goldenDir(), "tiny-a"), WithDimensions(8))
	if err != nil {
		t.Fatalf("another family: %v", err)
	}
	defer other.Close()
	if v, err := other.Embed(ctx, in[:1]); err != nil || len(v[0]) != 8 {
		t.Errorf("qwen2_vl with WithDimensions(8): %v", err)
	}
}
