package encoder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/org/vlm2vec/encoder/qwen2vl"
)

// The video goldens come from scripts/goldens/qwen2vl/make_video_goldens.py
// (transformers 4.52.3, the tiny checkpoints of make_goldens.py).

type videoRow struct {
	Text    string   `json:"text"`
	Images  []string `json:"images"`
	Video   *string  `json:"video"`
	Sampled []int    `json:"video_frames_sampled"`
}

type videoCase struct {
	ID             string      `json:"id"`
	Model          string      `json:"model"`
	Adapter        *string     `json:"adapter"`
	DType          string      `json:"dtype"`
	PositionScheme string      `json:"position_scheme"`
	Rows           []videoRow  `json:"rows"`
	InputIDs       [][]int     `json:"input_ids"`
	AttentionMask  [][]int     `json:"attention_mask"`
	ImageGrid      [][]int     `json:"image_grid_thw"`
	VideoGrid      [][]int     `json:"video_grid_thw"`
	PositionIDs    [][][]int   `json:"position_ids"`
	Embedding      [][]float64 `json:"embedding"`
}

func loadVideoCases(t *testing.T) []videoCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(goldenDir(), "video_goldens.json"))
	if err != nil {
		t.Fatalf("video goldens missing (run scripts/goldens/qwen2vl/make_video_goldens.py): %v", err)
	}
	var g struct {
		Cases []videoCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

// clipFrames lists a golden clip's frame files in order.
func clipFrames(t *testing.T, clip string) []string {
	t.Helper()
	dir := filepath.Join(goldenDir(), "videos", clip)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out
}

// TestVideoMatchesTransformers embeds every video golden case from its
// prompt strings and PNG frames (all frames of the clip: the encoder samples
// 8 as VLM2Vec does) and must reproduce transformers' embeddings: frame
// sampling, the video processor, <|video_pad|> expansion, mixed batches of
// text, images and videos, 1-D and M-RoPE positions (including prompts that
// mix bare and wrapped visuals), LoRA, bf16. Tolerances as for images: 1e-4
// relative in f32 (float32 rounding of a different summation order over a
// few hundred terms), cosine 0.999 in bf16.
func TestVideoMatchesTransformers(t *testing.T) {
	ctx := context.Background()
	encoders := map[string]*Encoder{}
	n := 0
	for _, c := range loadVideoCases(t) {
		enc := goldenEncoder(t, encoders, c.Model, c.DType, c.PositionScheme, c.Adapter, 4)
		var inputs []Input
		for _, r := range c.Rows {
			in := Input{Prompt: r.Text}
			for k, name := range r.Images {
				p := filepath.Join(goldenDir(), "images", name+".png")
				if k == 0 {
					in.ImagePath = p
				} else {
					in.MoreImagePaths = append(in.MoreImagePaths, p)
				}
			}
			if r.Video != nil {
				frames := clipFrames(t, *r.Video)
				in.VideoPaths = frames
				var picked []int
				for _, f := range SampleFrames(frames, DefaultVideoFrames) {
					picked = append(picked, sort.SearchStrings(frames, f))
				}
				if !reflect.DeepEqual(picked, r.Sampled) {
					t.Errorf("%s: sampled frames %v, reference %v", c.ID, picked, r.Sampled)
				}
			}
			inputs = append(inputs, in)
		}
		// The model inputs first: ids and positions must be the reference's
		// exactly (pad positions aside), or the embedding check is moot.
		batch, err := enc.Batch(inputs, len(inputs))
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		qb := batch.(*qwen2vl.Batch)
		for r := range c.InputIDs {
			var want []int
			var wantPos [3][]int
			for k, m := range c.AttentionMask[r] {
				if m == 1 {
					want = append(want, c.InputIDs[r][k])
					for a := 0; a < 3; a++ {
						wantPos[a] = append(wantPos[a], c.PositionIDs[a][r][k])
					}
				}
			}
			for k, id := range want {
				if int(qb.IDs[r][k]) != id {
					t.Fatalf("%s row %d: token %d is %d, reference %d", c.ID, r, k, qb.IDs[r][k], id)
				}
				for a := 0; a < 3; a++ {
					if int(qb.Positions[a][r][k]) != wantPos[a][k] {
						t.Fatalf("%s row %d: position axis %d at token %d is %d, reference %d", c.ID, r, a, k, qb.Positions[a][r][k], wantPos[a][k])
					}
				}
			}
		}
		got, err := enc.Embed(ctx, inputs)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		checkEmbeddings(t, c.ID, c.DType, got, c.Embedding)
		n++
	}
	if n < 20 {
		t.Fatalf("only %d video cases", n)
	}
}

// TestSampleFrames: floor(linspace(0, n-1, k)) as numpy computes it, all
// frames when fewer than k, and every frame for k = 0.
func TestSampleFrames(t *testing.T) {
	idx := func(n, k int) []int {
		in := make([]int, n)
		for i := range in {
			in[i] = i
		}
		return SampleFrames(in, k)
	}
	for _, c := range []struct {
		n, k int
		want []int
	}{
		{64, 8, []int{0, 9, 18, 27, 36, 45, 54, 63}},
		{9, 8, []int{0, 1, 2, 3, 4, 5, 6, 8}},
		{8, 8, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{3, 8, []int{0, 1, 2}},
		{10, 1, []int{0}},
		{5, 0, []int{0, 1, 2, 3, 4}},
	} {
		if got := idx(c.n, c.k); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SampleFrames(%d, %d) = %v, want %v", c.n, c.k, got, c.want)
		}
	}
}
