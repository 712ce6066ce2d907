package qwen3vl

import (
	"context"
	"image"
	"math"
	"strings"
	"testing"

	_ "github.com/gomlx/compute/gobackend"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/internal/testutil"
)

func openTiny(t testing.TB) *Backbone {
	m, err := Family.Open(context.Background(), "testdata/tiny", family.Options{Backend: testutil.Backend(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.(*Backbone)
}

// TestMatchesReference runs every golden case (text only, images with
// alpha, tiny and extreme sizes, several images, videos given as frame
// lists, a mixed batch) through Render, Prepare, Assemble and Forward as
// one batch, and compares the prompts, token ids, decoder positions and
// embeddings with Qwen3-VL-Embedding's own embedder on transformers 4.57.3.
// Tolerance 1e-6 per component of the unit-norm embedding: float32 on both
// sides, differing only in summation order (observed at most 1.5e-7).
func TestMatchesReference(t *testing.T) {
	b := openTiny(t)
	for _, c := range loadGolden(t).Cases {
		t.Run(c.Name, func(t *testing.T) {
			if mf := c.Embedder["max_frames"]; mf > 0 {
				b.proc.MaxFrames = mf
				defer func() { b.proc.MaxFrames = MaxFrames }()
			}
			var rows []family.Row
			for i, r := range c.Rows {
				in := r.Input
				instr := ""
				if in.Instruction != nil {
					instr = *in.Instruction
				}
				var visuals []family.Visual
				if len(in.Video) > 0 {
					var frames []image.Image
					for _, f := range in.Video {
						frames = append(frames, decode(t, f))
					}
					visuals = append(visuals, family.Visual{Frames: frames})
				}
				for _, f := range in.Image {
					visuals = append(visuals, family.Visual{Image: decode(t, f)})
				}
				nVid := 0
				if len(in.Video) > 0 {
					nVid = 1
				}
				prompt, err := b.Render(family.Request{Instruction: instr, Text: strings.Join(in.Text, ""), Images: len(in.Image), Videos: nVid})
				if err != nil {
					t.Fatal(err)
				}
				if prompt != r.Prompt {
					t.Errorf("row %d prompt\n%q\nreference\n%q", i, prompt, r.Prompt)
				}
				prepared, err := b.Prepare(prompt, visuals)
				if err != nil {
					t.Fatal(err)
				}
				ids := prepared.(*row).ids
				if len(ids) != len(r.IDs) {
					t.Fatalf("row %d: %d tokens, reference %d", i, len(ids), len(r.IDs))
				}
				for k := range ids {
					if int(ids[k]) != r.IDs[k] {
						t.Fatalf("row %d token %d: %d, reference %d", i, k, ids[k], r.IDs[k])
					}
				}
				rows = append(rows, prepared)
			}
			batch, err := b.Assemble(rows, len(rows))
			if err != nil {
				t.Fatal(err)
			}
			qb := batch.(*Batch)
			for i, r := range c.Rows {
				for a := 0; a < 3; a++ {
					for k, p := range r.Positions[a] {
						if int(qb.Positions[a][i][k]) != p {
							t.Fatalf("row %d axis %d token %d: position %d, reference %d", i, a, k, qb.Positions[a][i][k], p)
						}
					}
				}
			}
			out, err := b.Forward(batch)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range c.Rows {
				worst := 0.0
				for k, want := range r.Embedding {
					worst = math.Max(worst, math.Abs(float64(out.Embeddings[i][k])-want))
				}
				if worst > 1e-6 {
					t.Errorf("row %d: embedding differs from the reference by %.2g", i, worst)
				}
				t.Logf("row %d: max |diff| %.2g", i, worst)
			}
		})
	}
}
