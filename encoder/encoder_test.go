package encoder

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/org/vlm2vec/encoder/qwen2vl"
	"github.com/org/vlm2vec/internal/testutil"
)

// The checkpoints and goldens come from scripts/goldens/qwen2vl/make_goldens.py
// (transformers 4.52.3), shared with package qwen2vl.
func goldenDir() string {
	if d := os.Getenv("QWEN2VL_GOLDEN_DIR"); d != "" {
		return d
	}
	return filepath.Join("qwen2vl", "testdata")
}

type goldenRow struct {
	Text   string   `json:"text"`
	Images []string `json:"images"`
}

type goldenCase struct {
	ID             string      `json:"id"`
	Model          string      `json:"model"`
	Adapter        *string     `json:"adapter"`
	DType          string      `json:"dtype"`
	PositionScheme string      `json:"position_scheme"`
	Rows           []goldenRow `json:"rows"`
	Embedding      [][]float64 `json:"embedding"`
}

func loadCases(t *testing.T) []goldenCase {
	raw, err := os.ReadFile(filepath.Join(goldenDir(), "encoder_goldens.json"))
	if err != nil {
		t.Fatalf("goldens missing (run scripts/goldens/qwen2vl/make_goldens.py): %v", err)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

func inputsFor(c goldenCase) []Input {
	var ins []Input
	for _, r := range c.Rows {
		in := Input{Prompt: r.Text}
		for k, name := range r.Images {
			path := filepath.Join(goldenDir(), "images", name+".png")
			if k == 0 {
				in.ImagePath = path
			} else {
				in.MoreImagePaths = append(in.MoreImagePaths, path)
			}
		}
		ins = append(ins, in)
	}
	return ins
}

// goldenEncoder opens (once per setting, cached in encoders) the encoder a
// golden case was made with.
func goldenEncoder(t *testing.T, encoders map[string]*Encoder, modelName, dtype, scheme string, adapter *string, batch int) *Encoder {
	t.Helper()
	key := modelName + "|" + dtype + "|" + scheme
	opts := []Option{WithBatchSize(batch)}
	if adapter != nil {
		key += "|" + *adapter
		opts = append(opts, WithAdapter(filepath.Join(goldenDir(), *adapter)))
	}
	if dtype == "bfloat16" {
		opts = append(opts, WithDType(dtypes.BFloat16))
	}
	if scheme != "vlm2vec_1d" {
		opts = append(opts, WithPositionScheme(qwen2vl.PositionsMRoPE))
	}
	enc, ok := encoders[key]
	if !ok {
		var err error
		if enc, err = Open(context.Background(), filepath.Join(goldenDir(), modelName), opts...); err != nil {
			t.Fatal(err)
		}
		encoders[key] = enc
	}
	return enc
}

// checkTokenIDs compares a batch's real tokens (valid, right-padded) with
// the reference's unpadded token ids, row by row.
func checkTokenIDs(t *testing.T, id string, ids [][]int32, valid [][]bool, want [][]int) {
	t.Helper()
	for r, w := range want {
		n := 0
		for k, v := range valid[r] {
			if !v {
				continue
			}
			if k >= len(w) || int(ids[r][k]) != w[k] {
				t.Fatalf("%s row %d: token %d differs from the reference (%d tokens there)", id, r, k, len(w))
			}
			n++
		}
		if n != len(w) {
			t.Fatalf("%s row %d: %d tokens, reference %d", id, r, n, len(w))
		}
	}
}

// checkEmbeddings compares a golden case's embeddings: 1e-4 relative in
// f32, cosine 0.999 in bf16.
func checkEmbeddings(t *testing.T, id, dtype string, got [][]float32, want [][]float64) {
	t.Helper()
	for r, w := range want {
		if dtype == "bfloat16" {
			if cos := testutil.Cosine(got[r], w); cos < 0.999 {
				t.Errorf("%s row %d: bf16 cosine %.6f", id, r, cos)
			}
			continue
		}
		if e := testutil.MaxRelErr(got[r], w); e > 1e-4 {
			t.Errorf("%s row %d: rel err %.3g > 1e-4", id, r, e)
		}
	}
}

// TestEndToEndMatchesTransformers starts from the raw prompt strings and
// PNG files of each golden case and must reproduce transformers'
// embeddings: tokenizer, image decoding, processor, batching (with our own
// right padding and shape buckets) and model together. Tolerance as in
// package qwen2vl: 1e-4 relative for f32, cosine 0.999 for bf16.
func TestEndToEndMatchesTransformers(t *testing.T) {
	ctx := context.Background()
	encoders := map[string]*Encoder{}
	n := 0
	for _, c := range loadCases(t) {
		enc := goldenEncoder(t, encoders, c.Model, c.DType, c.PositionScheme, c.Adapter, 3)
		got, err := enc.Embed(ctx, inputsFor(c))
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		checkEmbeddings(t, c.ID, c.DType, got, c.Embedding)
		n++
	}
	if n < 30 {
		t.Fatalf("only %d cases", n)
	}
	for k, e := range encoders {
		// 3-row batches of short prompts: a handful of buckets, not one per case.
		if e.CompiledShapes() > 6 {
			t.Errorf("%s compiled %d shapes", k, e.CompiledShapes())
		}
	}
}

func TestErrorsNotPanics(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(goldenDir(), "tiny-a")
	enc, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]Input{
		"empty":               {},
		"missing image file":  {Instruction: "Represent the given image.", ImagePath: filepath.Join(t.TempDir(), "nope.png")},
		"empty image":         {Instruction: "Represent the given image.", Image: image.NewRGBA(image.Rect(0, 0, 0, 0))},
		"image, no token":     {Prompt: "no placeholder here", Image: image.NewRGBA(image.Rect(0, 0, 32, 32))},
		"two tokens, 1 image": {Prompt: "<|image_pad|> and <|image_pad|>", Image: image.NewRGBA(image.Rect(0, 0, 32, 32))},
	}
	for name, in := range cases {
		if _, err := enc.Embed(ctx, []Input{{Text: "fine"}, in}); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "input 1") {
			t.Errorf("%s: error does not name the input: %v", name, err)
		}
	}
	if _, err := enc.Embed(ctx, []Input{{}}); !errors.Is(err, ErrEmptyInput) {
		t.Errorf("empty input: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := enc.Embed(cancelled, []Input{{Text: "a"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// A checkpoint with an adapter that does not fit it.
	if _, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithAdapter(filepath.Join(goldenDir(), "tiny-a-lora"))); err == nil {
		t.Error("tiny-a adapter accepted on tiny-b")
	}
	// No processor config.
	bare := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(bare, f), data, 0o644)
	}
	if _, err := Open(ctx, bare); err == nil || !strings.Contains(err.Error(), "preprocessor_config.json") {
		t.Errorf("missing preprocessor config: %v", err)
	}
}

// TestGoTrainedAdapterInPEFT: a DoRA adapter trained by examples/train_lora
// and saved in PEFT's format, loaded by Python PEFT onto transformers' tiny-a
// (scripts/goldens/qwen2vl/peft_roundtrip.py), gives the embeddings this
// encoder gives with the same adapter (1e-4 relative). The adapter changes
// the embeddings a lot, so a silently ignored adapter on either side fails.
func TestGoTrainedAdapterInPEFT(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join(goldenDir(), "go_adapter_goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Adapter   string      `json:"adapter"`
		Rows      []goldenRow `json:"rows"`
		Embedding [][]float64 `json:"embedding"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	inputs := inputsFor(goldenCase{Rows: g.Rows})
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-a"), WithAdapter(filepath.Join(goldenDir(), g.Adapter)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := enc.Embed(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	base, err := Open(ctx, filepath.Join(goldenDir(), "tiny-a"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := base.Embed(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	for r, want := range g.Embedding {
		if e := testutil.MaxRelErr(got[r], want); e > 1e-4 {
			t.Errorf("row %d: rel err %.3g vs PEFT", r, e)
		}
		if cos := testutil.Cosine(plain[r], want); cos > 0.99 {
			t.Errorf("row %d: the adapter barely changes the embedding (cosine %.4f to the base model's)", r, cos)
		}
	}
}
