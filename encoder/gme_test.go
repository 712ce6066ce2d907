package encoder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/qwen2vl"
)

// The GME goldens come from scripts/goldens/gme/make_goldens.py, which runs
// GME's inference code (VLM2Vec's copy) in its own pinned environment
// (transformers 4.51.3) on the tiny-gme checkpoint.

type gmeInput struct {
	Instruction string `json:"instruction"`
	Text        string `json:"text"`
	Prompt      string `json:"prompt"`
	Image       string `json:"image"`
	Video       string `json:"video"`
	Format      string `json:"format"`
}

type gmeCase struct {
	ID         string      `json:"id"`
	Variant    string      `json:"variant"`
	Pixels     [2]int      `json:"pixels"`
	Inputs     []gmeInput  `json:"inputs"`
	InputIDs   [][]int     `json:"input_ids"`
	FetchedHW  [][2]int    `json:"fetched_hw"`
	FrameFed   *int        `json:"video_frame_fed"`
	Embedding  [][]float64 `json:"embedding"`
	PositionID *[]int      `json:"decoder_position_ids"`
}

func loadGMECases(t *testing.T) []gmeCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(goldenDir(), "gme_goldens.json"))
	if err != nil {
		t.Fatalf("GME goldens missing (run scripts/goldens/gme/make_goldens.py): %v", err)
	}
	var g struct {
		Cases []gmeCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

// TestGMEMatchesReference embeds every GME golden case from its inputs as a
// user writes them (instruction and text, or an MMEB row's prompt, and image
// files or a clip's frames) and must reproduce GME's inference code: the
// checkpoint is recognised as GME by its gme_inference.py, the prompt
// template and fetch_image's pre-resize give the reference's token ids
// exactly, positions are 1-D, and embeddings agree to 1e-4 relative (f32,
// as for the Qwen2-VL goldens). "gme" cases run with the family's default
// pixel budget, "gme-eval" ones with VLM2Vec's (WithPixels).
func TestGMEMatchesReference(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(goldenDir(), "tiny-gme")
	encoders := map[string]*Encoder{}
	cases := loadGMECases(t)
	if len(cases) < 8 {
		t.Fatalf("only %d GME cases", len(cases))
	}
	for _, c := range cases {
		if c.PositionID != nil {
			t.Fatalf("%s: the reference passed position ids; the 1-D check below assumes it did not", c.ID)
		}
		format := ""
		for _, in := range c.Inputs {
			format = in.Format
		}
		key := c.Variant + "|" + format
		enc, ok := encoders[key]
		if !ok {
			opts := []Option{WithBatchSize(4)}
			if c.Variant == "gme-eval" {
				opts = append(opts, WithPixels(c.Pixels[0], c.Pixels[1]))
			} else if c.Pixels != [2]int{qwen2vl.GMEMinPixels, qwen2vl.GMEMaxPixels} {
				t.Fatalf("%s: reference budget %v is not the family default", c.ID, c.Pixels)
			}
			if format == "gme-eval" {
				opts = append(opts, WithPromptFormat(family.FormatGMEEval))
			}
			var err error
			if enc, err = Open(ctx, dir, opts...); err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			if enc.Family() != "gme" {
				t.Fatalf("tiny-gme opened as family %q", enc.Family())
			}
			encoders[key] = enc
		}
		var inputs []Input
		for _, in := range c.Inputs {
			x := Input{Instruction: in.Instruction, Text: in.Text, Prompt: in.Prompt}
			if in.Image != "" {
				x.ImagePath = filepath.Join(goldenDir(), "images", in.Image)
			}
			if in.Video != "" {
				x.VideoPaths = clipFrames(t, in.Video)
				sampled := SampleFrames(x.VideoPaths, DefaultVideoFrames)
				fed := sort.SearchStrings(x.VideoPaths, sampled[len(sampled)/2])
				if c.FrameFed == nil || fed != *c.FrameFed {
					t.Errorf("%s: the middle sampled frame is %d, the reference fed %v", c.ID, fed, c.FrameFed)
				}
			}
			inputs = append(inputs, x)
		}
		batch, err := enc.Batch(inputs, len(inputs))
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		qb := batch.(*qwen2vl.Batch)
		checkTokenIDs(t, c.ID, qb.IDs, qb.Valid, c.InputIDs)
		for r := range c.InputIDs {
			for k, v := range qb.Valid[r] {
				for a := 0; v && a < 3; a++ {
					if int(qb.Positions[a][r][k]) != k {
						t.Fatalf("%s row %d: position axis %d at token %d is %d, want 1-D %d", c.ID, r, a, k, qb.Positions[a][r][k], k)
					}
				}
			}
		}
		got, err := enc.Embed(ctx, inputs)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		checkEmbeddings(t, c.ID, "float32", got, c.Embedding)
	}
}

// TestGMEFetchSize checks the fetch_image sizes the reference recorded,
// image by image, against qwen2vl.GMEFetchSize.
func TestGMEFetchSize(t *testing.T) {
	n := 0
	for _, c := range loadGMECases(t) {
		k := 0
		for _, in := range c.Inputs {
			if in.Image == "" {
				if in.Video != "" {
					k++
				}
				continue
			}
			img, err := images.DecodeFile(filepath.Join(goldenDir(), "images", in.Image), images.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			b := img.Bounds()
			h, w, err := qwen2vl.GMEFetchSize(b.Dy(), b.Dx())
			if err != nil {
				t.Fatal(err)
			}
			if want := c.FetchedHW[k]; [2]int{h, w} != want {
				t.Errorf("%s %s: fetch size %dx%d, reference %v", c.ID, in.Image, h, w, want)
			}
			k++
			n++
		}
	}
	if n < 8 {
		t.Fatalf("only %d images checked", n)
	}
}
