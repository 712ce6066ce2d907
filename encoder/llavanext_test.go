package encoder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/vlm2vec/encoder/llavanext"
)

// The LLaVA-NeXT goldens come from scripts/goldens/llavanext/make_goldens.py
// (transformers 4.52.3 LlavaNextForConditionalGeneration, f32, eager).

type llavaRow struct {
	Text      string   `json:"text"`
	Images    []string `json:"images"`
	PreResize int      `json:"pre_resize"`
}

type llavaCase struct {
	ID        string      `json:"id"`
	Model     string      `json:"model"`
	Adapter   *string     `json:"adapter"`
	Rows      []llavaRow  `json:"rows"`
	InputIDs  [][]int     `json:"input_ids"`
	Embedding [][]float64 `json:"embedding"`
}

const llavaDir = "llavanext/testdata"

// TestLLaVANextMatchesTransformers embeds every golden case from its prompt
// strings and PNG files: the family is detected from config.json, prompts
// tokenized and <image> expanded as LlavaNextProcessor does (token ids
// compared exactly), images tiled by anyres, and embeddings within 1e-4
// relative (f32, as for Qwen2-VL). Covers both checkpoint key layouts,
// two feature layers, a sliding window shorter than the prompts, mixed
// text and image batches, two images in one prompt, VLM2Vec's 1344x1344
// pre-resize, and LoRA / DoRA adapters (merged at load; they also adapt
// CLIP's q/k/v projections, as VLM2Vec's target names do).
func TestLLaVANextMatchesTransformers(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(llavaDir, "encoder_goldens.json"))
	if err != nil {
		t.Fatalf("goldens missing (run scripts/goldens/llavanext/make_goldens.py): %v", err)
	}
	var g struct {
		Cases []llavaCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 25 {
		t.Fatalf("only %d cases", len(g.Cases))
	}
	ctx := context.Background()
	encoders := map[string]*Encoder{}
	for _, c := range g.Cases {
		pre := c.Rows[0].PreResize
		key := c.Model + "|" + filepath.Base(ptrOr(c.Adapter)) + "|" + string(rune('0'+pre/1344))
		enc, ok := encoders[key]
		if !ok {
			opts := []Option{WithBatchSize(3), WithPreResize(pre)}
			if c.Adapter != nil {
				opts = append(opts, WithAdapter(filepath.Join(llavaDir, *c.Adapter)))
			}
			if enc, err = Open(ctx, filepath.Join(llavaDir, c.Model), opts...); err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			if enc.Family() != "llava_next" {
				t.Fatalf("%s opened as %q", c.Model, enc.Family())
			}
			encoders[key] = enc
		}
		var inputs []Input
		for _, r := range c.Rows {
			if r.PreResize != pre {
				t.Fatalf("%s: rows with different pre-resizes", c.ID)
			}
			in := Input{Prompt: r.Text}
			for k, name := range r.Images {
				p := filepath.Join(llavaDir, "images", name)
				if k == 0 {
					in.ImagePath = p
				} else {
					in.MoreImagePaths = append(in.MoreImagePaths, p)
				}
			}
			inputs = append(inputs, in)
		}
		batch, err := enc.Batch(inputs, len(inputs))
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		lb := batch.(*llavanext.Batch)
		checkTokenIDs(t, c.ID, lb.IDs, lb.Valid, c.InputIDs)
		got, err := enc.Embed(ctx, inputs)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		checkEmbeddings(t, c.ID, "float32", got, c.Embedding)
	}
}

func ptrOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestLLaVANextGoTrainedAdapterInPEFT: an adapter examples/train_lora wrote
// for tiny-llava loads in Python PEFT and gives there the embeddings it
// gives here (scripts/goldens/llavanext/peft_roundtrip.py; 1e-4 relative).
func TestLLaVANextGoTrainedAdapterInPEFT(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(llavaDir, "go_adapter_goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Rows      []llavaRow  `json:"rows"`
		Embedding [][]float64 `json:"embedding"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	enc, err := Open(context.Background(), filepath.Join(llavaDir, "tiny-llava"), WithAdapter(filepath.Join(llavaDir, "tiny-llava-go-dora")))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var inputs []Input
	for _, r := range g.Rows {
		in := Input{Prompt: r.Text}
		if len(r.Images) > 0 {
			in.ImagePath = filepath.Join(llavaDir, "images", r.Images[0])
		}
		inputs = append(inputs, in)
	}
	got, err := enc.Embed(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	checkEmbeddings(t, "go-trained adapter", "float32", got, g.Embedding)
}
