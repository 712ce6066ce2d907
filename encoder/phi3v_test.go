package encoder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/vlm2vec/encoder/phi3v"
)

// The Phi-3-V goldens come from scripts/goldens/phi3v/make_goldens.py
// (VLM2Vec's vendored Phi3VForCausalLM and Phi3VProcessor under
// transformers 4.52.3, f32, eager attention).

type phiCase struct {
	ID      string  `json:"id"`
	Model   string  `json:"model"`
	Adapter *string `json:"adapter"`
	Rows    []struct {
		Text   string   `json:"text"`
		Images []string `json:"images"`
	} `json:"rows"`
	InputIDs  [][]int     `json:"input_ids"`
	Embedding [][]float64 `json:"embedding"`
	Batched   float64     `json:"batched_vs_alone_max_diff"`
}

const phiDir = "phi3v/testdata"

// TestPhi3VMatchesReference embeds every golden case from its prompt
// strings and PNG files: the family is detected from config.json, prompts
// split at <|image_k|> and tokenized chunk by chunk as Phi3VProcessor does
// (token ids compared exactly; image tokens, the reference's negative ids,
// must be where the image features go), images HD-transformed with the
// checkpoint's num_crops (4 and 16), and embeddings within 1e-4 relative
// (f32, as for the other families). Covers text-only rows, portrait,
// landscape, tiny and exact-336 images, RGBA, two images in one prompt,
// text before an image, mixed batches, GQA, a 40-token sliding window, the
// "su" long rope factors (tiny-phi3v-b switches to them above 64 tokens)
// and LoRA / DoRA adapters on VLM2Vec's targets (decoder and CLIP), merged
// at load. The goldens are each row run alone; in tiny-phi3v-b's mixed
// case the reference's own batch differs from that (it picks the rope
// factors by padded length), which the test confirms is what it skips.
func TestPhi3VMatchesReference(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(phiDir, "encoder_goldens.json"))
	if err != nil {
		t.Fatalf("goldens missing (run scripts/goldens/phi3v/make_goldens.py): %v", err)
	}
	var g struct {
		Cases []phiCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 20 {
		t.Fatalf("only %d cases", len(g.Cases))
	}
	ctx := context.Background()
	encoders := map[string]*Encoder{}
	batchEffect := false
	for _, c := range g.Cases {
		key := c.Model + "|" + ptrOr(c.Adapter)
		enc, ok := encoders[key]
		if !ok {
			opts := []Option{WithBatchSize(3)}
			if c.Model == "tiny-phi3v-b" {
				// Its max_position_embeddings (256) is set low to reach the
				// long rope factors; the reference runs its longer rows.
				opts = append(opts, WithMaxTokens(4096))
			}
			if c.Adapter != nil {
				opts = append(opts, WithAdapter(filepath.Join(phiDir, *c.Adapter)))
			}
			if enc, err = Open(ctx, filepath.Join(phiDir, c.Model), opts...); err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			if enc.Family() != "phi3_v" {
				t.Fatalf("%s opened as %q", c.Model, enc.Family())
			}
			encoders[key] = enc
		}
		var inputs []Input
		for _, r := range c.Rows {
			in := Input{Prompt: r.Text}
			for k, name := range r.Images {
				p := filepath.Join(phiDir, "images", name)
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
		checkPhiTokens(t, c.ID, batch.(*phi3v.Batch), c.InputIDs)
		got, err := enc.Embed(ctx, inputs)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		checkEmbeddings(t, c.ID, "float32", got, c.Embedding)
		batchEffect = batchEffect || c.Batched > 1e-3
	}
	if !batchEffect {
		t.Fatal("no golden case shows the reference's batch effect; the alone-row rule is untested")
	}
}

// checkPhiTokens compares a batch with the reference's ids: text tokens
// exactly, and image tokens (negative there) by position.
func checkPhiTokens(t *testing.T, id string, b *phi3v.Batch, want [][]int) {
	t.Helper()
	for r, w := range want {
		n := 0
		for k, v := range b.Valid[r] {
			if !v {
				continue
			}
			if k >= len(w) {
				t.Fatalf("%s row %d: more tokens than the reference's %d", id, r, len(w))
			}
			image := b.FeatSrc != nil && b.FeatSrc[r][k] >= 0
			if image != (w[k] < 0) || !image && int(b.IDs[r][k]) != w[k] {
				t.Fatalf("%s row %d: token %d differs from the reference (%d, image %v)", id, r, k, w[k], image)
			}
			n++
		}
		if n != len(w) {
			t.Fatalf("%s row %d: %d tokens, reference %d", id, r, n, len(w))
		}
	}
}

// TestPhi3VGoTrainedAdapterInPEFT: an adapter examples/train_lora wrote for
// tiny-phi3v loads in Python PEFT on the reference model and gives there
// the embeddings it gives here (scripts/goldens/phi3v/peft_roundtrip.py;
// 1e-4 relative).
func TestPhi3VGoTrainedAdapterInPEFT(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(phiDir, "go_adapter_goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Rows []struct {
			Text   string   `json:"text"`
			Images []string `json:"images"`
		} `json:"rows"`
		Embedding [][]float64 `json:"embedding"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	enc, err := Open(context.Background(), filepath.Join(phiDir, "tiny-phi3v"), WithAdapter(filepath.Join(phiDir, "tiny-phi3v-go-dora")))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var inputs []Input
	for _, r := range g.Rows {
		in := Input{Prompt: r.Text}
		if len(r.Images) > 0 {
			in.ImagePath = filepath.Join(phiDir, "images", r.Images[0])
		}
		inputs = append(inputs, in)
	}
	got, err := enc.Embed(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	checkEmbeddings(t, "go-trained adapter", "float32", got, g.Embedding)
}
