package qwen2vl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	_ "github.com/gomlx/compute/gobackend"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/safetensors"
	"github.com/org/vlm2vec/internal/testutil"
)

// goldenDir holds the checkpoints and goldens written by
// scripts/goldens/qwen2vl/make_goldens.py.
func goldenDir() string {
	if d := os.Getenv("QWEN2VL_GOLDEN_DIR"); d != "" {
		return d
	}
	return "testdata"
}

type encoderCase struct {
	ID             string      `json:"id"`
	Model          string      `json:"model"`
	Adapter        *string     `json:"adapter"`
	Merged         bool        `json:"merged"`
	DType          string      `json:"dtype"`
	PositionScheme string      `json:"position_scheme"`
	PaddingSide    string      `json:"padding_side"`
	ImageCases     []string    `json:"image_processor_cases"`
	InputIDs       [][]int     `json:"input_ids"`
	AttentionMask  [][]int     `json:"attention_mask"`
	ImageGridTHW   [][3]int    `json:"image_grid_thw"`
	PositionIDs    [3][][]int  `json:"position_ids"`
	PooledIndex    []int       `json:"pooled_index"`
	PooledHidden   [][]float64 `json:"pooled_hidden"`
	Embedding      [][]float64 `json:"embedding"`
}

type encoderGoldens struct {
	Cases []encoderCase `json:"cases"`
}

func loadEncoderGoldens(t *testing.T) (*encoderGoldens, *safetensors.Checkpoint) {
	t.Helper()
	dir := goldenDir()
	raw, err := os.ReadFile(filepath.Join(dir, "encoder_goldens.json"))
	if err != nil {
		t.Fatalf("goldens missing (run scripts/goldens/qwen2vl/make_goldens.py): %v", err)
	}
	var g encoderGoldens
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	pix, err := safetensors.OpenFiles(filepath.Join(dir, "processor_goldens.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pix.Close() })
	return &g, pix
}

func backend(t testing.TB) compute.Backend { return testutil.Backend(t) }

// batchFromGolden rebuilds the model inputs the reference used.
func batchFromGolden(t *testing.T, c *encoderCase, cfg *Config, pix *safetensors.Checkpoint) *Batch {
	t.Helper()
	b := &Batch{}
	for r, row := range c.InputIDs {
		ids := make([]int32, len(row))
		valid := make([]bool, len(row))
		src := make([]int32, len(row))
		for i, id := range row {
			ids[i] = int32(id)
			valid[i] = c.AttentionMask[r][i] == 1
			src[i] = -1
		}
		b.IDs = append(b.IDs, ids)
		b.Valid = append(b.Valid, valid)
		b.FeatSrc = append(b.FeatSrc, src)
		b.Pooled = append(b.Pooled, int32(c.PooledIndex[r]))
	}
	for a := 0; a < 3; a++ {
		for _, row := range c.PositionIDs[a] {
			p := make([]int32, len(row))
			for i, v := range row {
				p[i] = int32(v)
			}
			b.Positions[a] = append(b.Positions[a], p)
		}
	}
	var grids []GridTHW
	for i, key := range c.ImageCases {
		vals, shape, err := pix.Float32s(key + "/pixel_values")
		if err != nil {
			t.Fatal(err)
		}
		for p := 0; p < shape[0]; p++ {
			b.Pixels = append(b.Pixels, vals[p*shape[1]:(p+1)*shape[1]])
		}
		g := c.ImageGridTHW[i]
		grids = append(grids, GridTHW{g[0], g[1], g[2]})
	}
	if len(grids) > 0 {
		b.RowCol, b.Segment = VisionPositions(grids, cfg.VisionConfig.SpatialMergeSize)
		// Visual features fill image-token positions in reading order.
		next := int32(0)
		for r := range b.IDs {
			for i, id := range b.IDs[r] {
				if int(id) == cfg.ImageTokenID {
					b.FeatSrc[r][i] = next
					next++
				}
			}
		}
	} else {
		b.FeatSrc = nil
	}
	return b
}

// TestMatchesTransformers runs every case of the golden set: two base
// models, LoRA and DoRA adapters (merged at load), both position schemes,
// left and right padding. f32 cases must be within 1e-4 relative error
// (max |diff| / max |value|) of transformers for the pooled hidden state and
// the embedding: f32 end to end, only summation order and transcendental
// rounding differ. bf16 cases must have cosine >= 0.999 with the reference's
// bf16 embedding: both round every activation to 8 bits of mantissa, in
// different places.
func TestMatchesTransformers(t *testing.T) {
	g, pix := loadEncoderGoldens(t)
	models := map[string]*Model{}
	ran := 0
	for i := range g.Cases {
		c := &g.Cases[i]
		t.Run(c.ID, func(t *testing.T) {
			key := c.Model + "|" + c.DType
			opts := LoadOptions{DType: dtypes.Float32}
			if c.DType == "bfloat16" {
				opts.DType = dtypes.BFloat16
			}
			if c.Adapter != nil {
				key += "|" + *c.Adapter
				a, err := peft.Load(filepath.Join(goldenDir(), *c.Adapter))
				if err != nil {
					t.Fatal(err)
				}
				opts.Adapter = a
			}
			m, ok := models[key]
			if !ok {
				var err error
				m, err = Load(backend(t), filepath.Join(goldenDir(), c.Model), opts)
				if err != nil {
					t.Fatal(err)
				}
				models[key] = m
			}
			checkPositions(t, c, m.Config)
			out, err := m.Forward(batchFromGolden(t, c, m.Config, pix))
			if err != nil {
				t.Fatal(err)
			}
			if c.DType == "bfloat16" {
				for r := range c.Embedding {
					cos := testutil.Cosine(out.Embeddings[r], c.Embedding[r])
					t.Logf("row %d: bf16 cosine %.6f", r, cos)
					if cos < 0.999 {
						t.Errorf("row %d: bf16 cosine %.6f < 0.999", r, cos)
					}
				}
				return
			}
			for r := range c.PooledHidden {
				if e := testutil.MaxRelErr(out.Hidden[r], c.PooledHidden[r]); e > 1e-4 {
					t.Errorf("row %d: pooled hidden rel err %.3g > 1e-4", r, e)
				}
				if e := testutil.MaxRelErr(out.Embeddings[r], c.Embedding[r]); e > 1e-4 {
					t.Errorf("row %d: embedding rel err %.3g > 1e-4", r, e)
				} else {
					t.Logf("row %d: embedding rel err %.2g", r, e)
				}
			}
		})
		ran++
	}
	if ran < 30 {
		t.Fatalf("only %d cases ran", ran)
	}
}

// checkPositions recomputes the reference's position ids for real tokens.
func checkPositions(t *testing.T, c *encoderCase, cfg *Config) {
	scheme := Positions1D
	if c.PositionScheme != "vlm2vec_1d" {
		scheme = PositionsMRoPE
	}
	img := 0
	for r, row := range c.InputIDs {
		var ids []int
		var where []int
		for i, id := range row {
			if c.AttentionMask[r][i] == 1 {
				ids = append(ids, id)
				where = append(where, i)
			}
		}
		var grids []GridTHW
		n := 0
		for _, id := range ids {
			if id == cfg.ImageTokenID {
				n++
			}
		}
		for n > 0 {
			g := c.ImageGridTHW[img]
			grids = append(grids, GridTHW{g[0], g[1], g[2]})
			n -= grids[len(grids)-1].Tokens(cfg.VisionConfig.SpatialMergeSize)
			img++
		}
		pos, err := TextPositions(ids, grids, cfg, scheme)
		if err != nil {
			t.Fatal(err)
		}
		for a := 0; a < 3; a++ {
			for k, i := range where {
				if int(pos[a][k]) != c.PositionIDs[a][r][i] {
					t.Fatalf("row %d axis %d token %d: position %d, reference %d", r, a, i, pos[a][k], c.PositionIDs[a][r][i])
				}
			}
		}
	}
}

// TestUnmergedAdapterGraph runs the adapter cases with the adapter kept as
// separate trainable variables (the training graph, dropout off) instead of
// merged: PEFT's unmerged forward is the reference, same tolerance.
func TestUnmergedAdapterGraph(t *testing.T) {
	g, pix := loadEncoderGoldens(t)
	models := map[string]*Model{}
	ran := 0
	for i := range g.Cases {
		c := &g.Cases[i]
		if c.Adapter == nil || c.DType != "float32" {
			continue
		}
		m, ok := models[*c.Adapter]
		if !ok {
			a, err := peft.Load(filepath.Join(goldenDir(), *c.Adapter))
			if err != nil {
				t.Fatal(err)
			}
			if m, err = Load(backend(t), filepath.Join(goldenDir(), c.Model), LoadOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := m.AttachLoRA(a.Config, a, 0); err != nil {
				t.Fatal(err)
			}
			if err := m.Refresh(); err != nil {
				t.Fatal(err)
			}
			models[*c.Adapter] = m
		}
		out, err := m.Forward(batchFromGolden(t, c, m.Config, pix))
		if err != nil {
			t.Fatal(err)
		}
		for r := range c.Embedding {
			if e := testutil.MaxRelErr(out.Embeddings[r], c.Embedding[r]); e > 1e-4 {
				t.Errorf("%s row %d: rel err %.3g", c.ID, r, e)
			}
		}
		ran++
	}
	if ran < 8 {
		t.Fatalf("only %d adapter cases", ran)
	}
	// The adapter read back from the variables equals the one loaded.
	for name, m := range models {
		back, err := m.Adapter()
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := peft.Load(filepath.Join(goldenDir(), name))
		if len(back.Layers) != len(orig.Layers) {
			t.Errorf("%s: %d layers back, %d loaded", name, len(back.Layers), len(orig.Layers))
		}
	}
}
