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
	stream := streamInputs(b, false)
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
// With portable, images with a side under 28 pixels are left out:
// transformers' Qwen2-VL processor refuses them (VLM2Vec's vendored one and
// this encoder square them up), so the PyTorch side could not run them.
func streamInputs(b *testing.B, portable bool) []encoder.Input {
	b.Helper()
	texts := benchInputs(b, "text")
	all, err := filepath.Glob(filepath.Join("qwen2vl", "testdata", "images", "*.png"))
	if err != nil || len(all) < 5 {
		b.Fatalf("test images: %v (%d found)", err, len(all))
	}
	var pics []string
	for _, p := range all {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		if !portable || min(cfg.Width, cfg.Height) >= 28 {
			pics = append(pics, p)
		}
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

// BenchmarkEmbedStreams embeds the 64-input mixed stream of
// BenchmarkEmbedStream (texts of 1x to 8x a caption, a third text only,
// the rest with images of nine sizes, none with a side under 28 pixels,
// which transformers refuses) the ways a caller hands it over, on
// warm programs (every shape compiled before timing):
//
//   - all: one Embed call with the whole stream (sorted by length inside,
//     batches of 8);
//   - by8: calls of 8 inputs in stream order (each call pads to its own
//     longest input);
//   - single: 64 calls of one input (each runs as a batch of one).
//
// long: one text of 800 words alone (its token count is logged), reporting the rise of the peak
// resident set (peak-rss-MB). scripts/bench/bench_torch.py stream runs the
// same inputs through transformers; VLM2VEC_BENCH_STREAM_OUT=FILE writes
// them as JSON for it.
func BenchmarkEmbedStreams(b *testing.B) {
	ctx := context.Background()
	dir := requireCheckpoint(b, "small")
	stream := streamInputs(b, true)
	if out := os.Getenv("VLM2VEC_BENCH_STREAM_OUT"); out != "" {
		writeStream(b, out, stream)
	}
	enc, err := encoder.Open(ctx, dir, encoder.WithBatchSize(8))
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	calls := map[string][][]encoder.Input{"all": {stream}}
	for i := 0; i < len(stream); i += 8 {
		calls["by8"] = append(calls["by8"], stream[i:i+8])
	}
	for i := range stream {
		calls["single"] = append(calls["single"], stream[i:i+1])
	}
	for _, mode := range []string{"all", "by8", "single"} {
		b.Run(mode, func(b *testing.B) {
			for _, c := range calls[mode] { // compile every shape first
				if _, err := enc.Embed(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, c := range calls[mode] {
					if _, err := enc.Embed(ctx, c); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(stream)*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
	b.Run("long", func(b *testing.B) {
		long := []encoder.Input{{Prompt: strings.Repeat("word ", 800)}}
		if toks, err := enc.Tokenizer().Encode(strings.Repeat("word ", 800), true); err == nil {
			b.Logf("long input: %d tokens", len(toks))
		}
		var peak float64
		for i := 0; i < b.N; i++ {
			base := testutil.ResetPeakRSS()
			if _, err := enc.Embed(ctx, long); err != nil {
				b.Fatal(err)
			}
			peak = max(peak, float64(testutil.ProcStatusKB("VmHWM")-base)/1024)
		}
		b.ReportMetric(peak, "peak-rss-MB")
	})
}

// writeStream writes the stream's inputs (instruction, text, image path
// relative to the encoder package) as a JSON list.
func writeStream(b *testing.B, path string, stream []encoder.Input) {
	type row struct {
		Instruction string `json:"instruction"`
		Text        string `json:"text"`
		Image       string `json:"image,omitempty"`
	}
	rows := make([]row, len(stream))
	for i, in := range stream {
		img := ""
		if in.ImagePath != "" {
			abs, err := filepath.Abs(in.ImagePath)
			if err != nil {
				b.Fatal(err)
			}
			img = abs
		}
		rows[i] = row{in.Instruction, in.Text, img}
	}
	data, err := json.MarshalIndent(rows, "", " ")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
}
