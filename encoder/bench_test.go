package encoder_test

// Embedding throughput on the benchmark checkpoints that
// scripts/bench/make_checkpoints.py writes to .cache/bench (or
// $VLM2VEC_BENCH_DIR). scripts/bench/run.sh runs these next to the same
// inputs through Hugging Face transformers and writes docs/BENCHMARKS.md.
//
//	go test ./encoder -run '^$' -bench 'BenchmarkEmbed' -benchtime 5x
//
// Benchmarks never run in plain `go test`; without the checkpoints they
// skip with a message.

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/qwen2vl"
	"github.com/org/vlm2vec/encoder/qwen3vl"
	"github.com/org/vlm2vec/internal/testutil"
)

type benchInput struct {
	Instruction string `json:"instruction"`
	Text        string `json:"text"`
	Image       string `json:"image"`
}

// benchInputs reads scripts/bench/inputs.json (the inputs the PyTorch side
// embeds too) and decodes its images once, so timing covers tokenization,
// image processing and the model, not PNG decoding.
func benchInputs(b *testing.B, kind string) []encoder.Input {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("..", "scripts", "bench", "inputs.json"))
	if err != nil {
		b.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		b.Fatal(err)
	}
	var rows []benchInput
	if err := json.Unmarshal(all[kind], &rows); err != nil {
		b.Fatal(err)
	}
	out := make([]encoder.Input, len(rows))
	for i, r := range rows {
		out[i] = encoder.Input{Instruction: r.Instruction, Text: r.Text}
		if r.Image != "" {
			img, err := images.DecodeFile(filepath.Join(testutil.BenchDir(), "images", r.Image), images.Limits{})
			if err != nil {
				b.Fatalf("%v (run scripts/bench/make_checkpoints.py)", err)
			}
			out[i].Image = image.Image(img)
		}
	}
	return out
}

func requireCheckpoint(b *testing.B, name string) string {
	b.Helper()
	dir := filepath.Join(testutil.BenchDir(), name)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		b.Skipf("benchmark checkpoint %s absent: run `/work/venv-goldens/bin/python scripts/bench/make_checkpoints.py` "+
			"(any Python with torch + transformers 4.52.3) or set VLM2VEC_BENCH_DIR", dir)
	}
	return dir
}

// BenchmarkEmbed embeds 8 inputs (one batch of 8) per op: short
// instruction + caption texts, or 224x224 images (64 visual tokens each)
// with an instruction. It reports items/s and real (unpadded) tokens/s.
// The family slices (llava-slice, phi3v-slice, qwen3vl-slice: LLaVA-NeXT's,
// Phi-3.5-V's and Qwen3-VL-2B's real widths, 2 decoder layers) embed the
// first 2 image inputs per op (an image is 1176, 757 and 49 tokens there),
// and all 8 texts.
func BenchmarkEmbed(b *testing.B) {
	ctx := context.Background()
	type variant struct {
		ckpt string
		dt   dtypes.DType
	}
	variants := []variant{
		{"small", dtypes.Float32},
		{"2b-slice", dtypes.Float32},
		{"2b-slice", dtypes.BFloat16},
		{"2b", dtypes.BFloat16}, // full depth; made only for the GPU run (scripts/gpu)
		{"llava-slice", dtypes.Float32},
		{"phi3v-slice", dtypes.Float32},
		{"qwen3vl-slice", dtypes.Float32},
	}
	for _, v := range variants {
		dtName := "f32"
		if v.dt == dtypes.BFloat16 {
			dtName = "bf16"
		}
		for _, kind := range []string{"text", "image"} {
			b.Run(fmt.Sprintf("%s/%s/%s", v.ckpt, kind, dtName), func(b *testing.B) {
				dir := requireCheckpoint(b, v.ckpt)
				inputs := benchInputs(b, kind)
				if kind == "image" && strings.HasSuffix(v.ckpt, "-slice") && v.ckpt != "2b-slice" {
					inputs = inputs[:familyImageRows]
				}
				enc, err := encoder.Open(ctx, dir, encoder.WithDType(v.dt), encoder.WithBatchSize(len(inputs)))
				if err != nil {
					b.Fatal(err)
				}
				defer enc.Close()
				batch, err := enc.Batch(inputs, len(inputs))
				if err != nil {
					b.Fatal(err)
				}
				tokens, padded := 0, 0
				for _, row := range batchValid(b, batch) {
					padded += len(row)
					for _, ok := range row {
						if ok {
							tokens++
						}
					}
				}
				// The first call compiles the program for this shape.
				t0 := time.Now()
				got, err := enc.Embed(ctx, inputs)
				if err != nil {
					b.Fatal(err)
				}
				first := time.Since(t0)
				checkBenchReference(b, got)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := enc.Embed(ctx, inputs); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(len(inputs)*b.N)/sec, "items/s")
				b.ReportMetric(float64(tokens*b.N)/sec, "tokens/s")
				b.ReportMetric(float64(tokens), "tokens/op")
				b.ReportMetric(float64(padded), "padded-tokens/op")
				// ResetTimer drops metrics reported before it: report now.
				b.ReportMetric(first.Seconds(), "first-call-s")
				if enc.CompiledShapes() != 1 {
					b.Errorf("%d compiled shapes, want 1", enc.CompiledShapes())
				}
			})
		}
	}
}

// checkBenchReference compares a benchmark's embeddings with the JSON
// list of vectors named by VLM2VEC_BENCH_REFERENCE (bench_torch.py embed
// --save writes one), so a timing row at real widths is also a parity check.
// The tolerance is loose (1e-4 per component, float32 at 2048-4096 wide
// with different summation orders); the tiny goldens hold the tight ones.
func checkBenchReference(b *testing.B, got [][]float32) {
	path := os.Getenv("VLM2VEC_BENCH_REFERENCE")
	if path == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var want [][]float32
	if err := json.Unmarshal(data, &want); err != nil {
		b.Fatalf("%s: %v", path, err)
	}
	if len(want) != len(got) {
		b.Fatalf("%s holds %d embeddings, the benchmark made %d", path, len(want), len(got))
	}
	worst := 0.0
	for i := range got {
		if len(got[i]) != len(want[i]) {
			b.Fatalf("embedding %d: dim %d, reference %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			worst = max(worst, math.Abs(float64(got[i][j]-want[i][j])))
		}
	}
	b.Logf("reference %s: max |diff| %.3g over %d embeddings", path, worst, len(got))
	if worst > 1e-4 {
		b.Errorf("embeddings differ from %s by up to %.3g (tolerance 1e-4)", path, worst)
	}
}

// familyImageRows is how many image inputs the family slices embed per op.
const familyImageRows = 2

// batchValid is a batch's real-token mask, whatever its family.
func batchValid(b *testing.B, batch family.Batch) [][]bool {
	switch x := batch.(type) {
	case *qwen2vl.Batch:
		return x.Valid
	case *clip.Batch: // LLaVA-NeXT, Phi-3-V
		return x.Valid
	case *qwen3vl.Batch:
		return x.Valid
	}
	b.Fatalf("batch of type %T", batch)
	return nil
}

// BenchmarkEmbedStream embeds a stream of 64 inputs of varied shapes (text
// of 1 to 8 times a caption's length, images from 10x7 to 500x333 pixels,
// mixed in batches of 8) twice on the small checkpoint. The first pass
// compiles one program per batch shape; the second finds them all cached.
// It reports the number of programs, the first pass's time, the second's,
// and their difference: the compilation cost of the stream. Run it on the
// Go backend and on XLA (GOMLX_BACKEND=xla:cpu) to compare.
func BenchmarkEmbedStream(b *testing.B) {
	ctx := context.Background()
	dir := requireCheckpoint(b, "small")
	stream := streamInputs(b)
	for i := 0; i < b.N; i++ {
		enc, err := encoder.Open(ctx, dir, encoder.WithBatchSize(8))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := enc.Embed(ctx, stream); err != nil {
			b.Fatal(err)
		}
		first := time.Since(t0)
		t1 := time.Now()
		if _, err := enc.Embed(ctx, stream); err != nil {
			b.Fatal(err)
		}
		second := time.Since(t1)
		b.ReportMetric(float64(enc.CompiledShapes()), "programs")
		b.ReportMetric(first.Seconds(), "first-pass-s")
		b.ReportMetric(second.Seconds(), "cached-pass-s")
		b.ReportMetric((first-second).Seconds()/float64(enc.CompiledShapes()), "compile-s/program")
		enc.Close()
	}
}

// streamInputs varies the text length and the image size over the
// benchmark's inputs and the test images of encoder/qwen2vl/testdata.
func streamInputs(b *testing.B) []encoder.Input {
	b.Helper()
	texts := benchInputs(b, "text")
	pics, err := filepath.Glob(filepath.Join("qwen2vl", "testdata", "images", "*.png"))
	if err != nil || len(pics) < 5 {
		b.Fatalf("test images: %v (%d found)", err, len(pics))
	}
	var out []encoder.Input
	for i := 0; i < 64; i++ {
		batch := i / 8
		t := texts[i%len(texts)]
		in := encoder.Input{Instruction: t.Instruction, Text: t.Text}
		for k := 0; k < (batch*3)%8; k++ { // 1x to 8x the caption, per batch
			in.Text += " " + t.Text
		}
		if batch%3 != 0 { // a third of the batches are text only
			in.ImagePath = pics[(i+batch)%len(pics)]
		}
		out = append(out, in)
	}
	return out
}
