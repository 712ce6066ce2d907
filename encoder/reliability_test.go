package encoder

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/vlm2vec/encoder/safetensors"
)

// TestTypedNilImagesAreErrors: an image.Image holding a nil pointer, as
// image, extra image or video frame, is an error naming it, not a panic.
func TestTypedNilImagesAreErrors(t *testing.T) {
	enc, err := Open(context.Background(), filepath.Join(goldenDir(), "tiny-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var nilRGBA *image.RGBA
	for name, in := range map[string]Input{
		"image":       {Instruction: "Represent the given image.", Image: nilRGBA},
		"extra image": {Prompt: "<|image_1|> <|image_1|>", Image: image.NewRGBA(image.Rect(0, 0, 8, 8)), MoreImages: []image.Image{nilRGBA}},
		"video frame": {Instruction: "Represent the video.", Video: []image.Image{image.NewRGBA(image.Rect(0, 0, 8, 8)), nilRGBA}},
		"nil frame":   {Instruction: "Represent the video.", Video: []image.Image{nil}},
	} {
		_, err := enc.Embed(context.Background(), []Input{in})
		if err == nil || !strings.Contains(err.Error(), "nil") || !strings.Contains(err.Error(), "input 0") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestNilContextIsAnError: Open and Embed refuse a nil context.
func TestNilContextIsAnError(t *testing.T) {
	//nolint:staticcheck // a nil context is what is tested
	if _, err := Open(nil, filepath.Join(goldenDir(), "tiny-b")); err == nil {
		t.Error("Open(nil ctx) succeeded")
	}
	enc, err := Open(context.Background(), filepath.Join(goldenDir(), "tiny-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	//nolint:staticcheck // a nil context is what is tested
	if _, err := enc.Embed(nil, []Input{{Text: "a cat"}}); err == nil {
		t.Error("Embed(nil ctx) succeeded")
	}
}

// rewriteCopy copies a tiny checkpoint, passing every tensor through edit.
func rewriteCopy(t *testing.T, src string, edit func(td safetensors.TensorData) safetensors.TensorData) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "model.safetensors" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ckpt, err := safetensors.OpenFiles(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ckpt.Close()
	var ts []safetensors.TensorData
	for _, name := range ckpt.Names() {
		if err := ckpt.Read(name, func(info safetensors.TensorInfo, raw []byte) error {
			ts = append(ts, edit(safetensors.TensorData{Name: name, DType: info.DType, Shape: info.Shape, Data: append([]byte(nil), raw...)}))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// corruptCopy copies a tiny checkpoint with the first value of one F32
// tensor replaced, or every value with all.
func corruptCopy(t *testing.T, src, tensor string, value float32, all bool) string {
	t.Helper()
	found := false
	dir := rewriteCopy(t, src, func(td safetensors.TensorData) safetensors.TensorData {
		if td.Name != tensor {
			return td
		}
		if td.DType != safetensors.F32 {
			t.Fatalf("%s is %s", td.Name, td.DType)
		}
		found = true
		for k := 0; k < len(td.Data); k += 4 {
			binary.LittleEndian.PutUint32(td.Data[k:], math.Float32bits(value))
			if !all {
				break
			}
		}
		return td
	})
	if !found {
		t.Fatalf("no tensor %s", tensor)
	}
	return dir
}

// TestF64WeightsLoad: a checkpoint stored in F64 (which transformers loads)
// embeds as its F32 original does.
func TestF64WeightsLoad(t *testing.T) {
	src := filepath.Join(goldenDir(), "tiny-b")
	dir := rewriteCopy(t, src, func(td safetensors.TensorData) safetensors.TensorData {
		if td.DType != safetensors.F32 {
			return td
		}
		out := make([]byte, 2*len(td.Data))
		for k := 0; k < len(td.Data)/4; k++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(td.Data[4*k:]))
			binary.LittleEndian.PutUint64(out[8*k:], math.Float64bits(float64(v)))
		}
		return safetensors.TensorData{Name: td.Name, DType: safetensors.F64, Shape: td.Shape, Data: out}
	})
	in := []Input{{Text: "a cat on a mat"}}
	var got [2][]float32
	for i, d := range []string{src, dir} {
		enc, err := Open(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		v, err := enc.Embed(context.Background(), in)
		enc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[i] = v[0]
	}
	for k := range got[0] {
		if got[0][k] != got[1][k] {
			t.Fatalf("F64 copy embeds differently at %d: %v vs %v", k, got[1][k], got[0][k])
		}
	}
}

// TestNonFiniteWeightsAreErrors: one NaN or Inf in one q_proj is an error
// at load naming the file, the tensor and the element.
func TestNonFiniteWeightsAreErrors(t *testing.T) {
	const q = "model.language_model.layers.0.self_attn.q_proj.weight"
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		dir := corruptCopy(t, filepath.Join(goldenDir(), "tiny-b"), q, v, false)
		_, err := Open(context.Background(), dir)
		if err == nil || !strings.Contains(err.Error(), q) || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "element 0") {
			t.Errorf("weight %v: Open error %v", v, err)
		}
	}
}

// TestNonFiniteEmbeddingIsAnError: finite weights that overflow (every
// q_proj weight 1e38) give ErrNotFinite naming the input, not a NaN vector.
func TestNonFiniteEmbeddingIsAnError(t *testing.T) {
	dir := corruptCopy(t, filepath.Join(goldenDir(), "tiny-b"), "model.language_model.layers.0.self_attn.q_proj.weight", 1e38, true)
	enc, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	_, err = enc.Embed(context.Background(), []Input{{Text: "a cat on a mat"}, {Text: "a dog"}})
	if !errors.Is(err, ErrNotFinite) || !strings.Contains(err.Error(), "input ") {
		t.Errorf("error %v, want ErrNotFinite naming the input", err)
	}
}

// TestTokenPastVocabIsAnError: added tokens whose ids run past
// config.json's vocab_size (tokenizers assigns them ids after its
// vocabulary, whatever tokenizer.json says) are refused at Open for each
// family, not read past the embedding table.
func TestTokenPastVocabIsAnError(t *testing.T) {
	for _, dir := range []string{filepath.Join(goldenDir(), "tiny-b"), filepath.Join(phiDir, "tiny-phi3v"), filepath.Join(llavaDir, "tiny-llava")} {
		cp := rewriteCopy(t, dir, func(td safetensors.TensorData) safetensors.TensorData { return td })
		raw, err := os.ReadFile(filepath.Join(cp, "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tj map[string]any
		if err := json.Unmarshal(raw, &tj); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 80; k++ { // the tiny vocabularies are padded to a multiple of 64
			tj["added_tokens"] = append(tj["added_tokens"].([]any), map[string]any{
				"id": 0, "content": fmt.Sprintf("<|extra_%d|>", k), "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
		}
		data, _ := json.Marshal(tj)
		if err := os.WriteFile(filepath.Join(cp, "tokenizer.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Open(context.Background(), cp)
		if err == nil || !strings.Contains(err.Error(), "vocab_size") {
			t.Errorf("%s: error %v", dir, err)
		}
	}
}

// TestFingerprintFollowsContents: the fingerprint (the MMEB cache's key) is
// stable for the same files and settings, and changes when an adapter is
// replaced in place or a setting that changes the vectors does.
func TestFingerprintFollowsContents(t *testing.T) {
	ctx := context.Background()
	base := filepath.Join(goldenDir(), "tiny-a")
	adapter := t.TempDir()
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors"} {
		data, err := os.ReadFile(filepath.Join(goldenDir(), "tiny-a-lora", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(adapter, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fp := func(opts ...Option) string {
		enc, err := Open(ctx, base, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		return enc.Fingerprint()
	}
	a := fp(WithAdapter(adapter))
	if a == "" || a != fp(WithAdapter(adapter)) {
		t.Fatal("fingerprint not stable")
	}
	if a == fp() || a == fp(WithAdapter(adapter), WithMaxTokens(64)) {
		t.Error("fingerprint ignores the adapter or a setting")
	}
	// Retrain in place: same names and shapes, other values.
	p := filepath.Join(adapter, "adapter_model.safetensors")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0x40
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if a == fp(WithAdapter(adapter)) {
		t.Error("fingerprint unchanged after the adapter was replaced in place")
	}
}
