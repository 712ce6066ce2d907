package traincmd

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/gradcache"
)

// TestRunSyntheticEndToEnd runs the command's whole path for a few steps:
// synthetic data, GradCache training with held-out evaluation, checkpoints,
// the metrics log, the plot and a PEFT adapter that loads back.
func TestRunSyntheticEndToEnd(t *testing.T) {
	dir := t.TempDir()
	f := &flags{
		modelName: filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-a"),
		outputDir: filepath.Join(dir, "run"), synthetic: filepath.Join(dir, "shapes"), sampler: "v2",
		schedule: "linear", targets: "q_proj,k_proj,v_proj,o_proj,down_proj", lora: true, useDora: true,
		loraR: 4, loraAlpha: 16, loraDropout: 0.1, temperature: 0.02, batch: 8, qChunk: 3, pChunk: 4,
		lr: 2e-3, warmup: 1, maxGradNorm: 1, maxSteps: 3, saveSteps: 2, saveLimit: 1, evalSteps: 3, seed: 1,
	}
	if err := run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	recs, err := gradcache.ReadMetrics(filepath.Join(f.outputDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0].Eval == nil || recs[3].Eval == nil || recs[3].Loss <= 0 {
		t.Fatalf("metrics: %+v", recs)
	}
	for _, p := range []string{"loss.png", "checkpoint-3/state.safetensors", "checkpoint-3/adapter/adapter_config.json"} {
		if _, err := os.Stat(filepath.Join(f.outputDir, p)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(f.outputDir, "checkpoint-2")); !os.IsNotExist(err) {
		t.Errorf("save_total_limit 1 kept checkpoint-2")
	}
	a, err := peft.Load(filepath.Join(f.outputDir, "adapter"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Layers) != 2*5 || !a.Config.UseDora || a.Config.R != 4 {
		t.Errorf("adapter: %d layers, %+v", len(a.Layers), a.Config)
	}
}

// TestRunSyntheticLLaVANext: the same command on a LLaVA-NeXT checkpoint
// (the family is detected; DoRA on VLM2Vec's LLaVA targets, which adapt the
// decoder and CLIP's q/k/v projections) learns the synthetic task in 30
// steps: the InfoNCE loss falls by a quarter and below chance (ln 8 for
// in-batch negatives of a batch of 8), so positives outrank the negatives.
func TestRunSyntheticLLaVANext(t *testing.T) {
	dir := t.TempDir()
	f := &flags{
		modelName: filepath.Join("..", "..", "encoder", "llavanext", "testdata", "tiny-llava"),
		outputDir: filepath.Join(dir, "run"), synthetic: filepath.Join(dir, "shapes"), sampler: "v2",
		schedule: "linear", targets: "q_proj,k_proj,v_proj,o_proj,down_proj", lora: true, useDora: true,
		loraR: 4, loraAlpha: 16, loraDropout: 0.1, temperature: 0.02, batch: 8, qChunk: 4, pChunk: 4,
		lr: 2e-3, warmup: 2, maxGradNorm: 1, maxSteps: 30, saveSteps: 100, saveLimit: 1, evalSteps: 30, seed: 1,
	}
	if err := run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	recs, err := gradcache.ReadMetrics(filepath.Join(f.outputDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// Single batches are noisy: compare the means of the first and last
	// three steps.
	var losses []float64
	for _, r := range recs {
		if r.Loss > 0 {
			losses = append(losses, r.Loss)
		}
	}
	mean := func(x []float64) float64 { return (x[0] + x[1] + x[2]) / 3 }
	first, last := mean(losses[:3]), mean(losses[len(losses)-3:])
	if len(losses) < 30 || !(last < 0.75*first) || !(last < math.Log(8)) {
		t.Fatalf("mean loss of the first 3 steps %.3f, of the last 3 %.3f (%d steps): not learning", first, last, len(losses))
	}
	a, err := peft.Load(filepath.Join(f.outputDir, "adapter"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f -> %.3f; eval %+v -> %+v", first, last, recs[0].Eval, recs[len(recs)-1].Eval)
	if len(a.Layers) != 2*5+2*3 {
		t.Errorf("adapter has %d layers, want 16 (2 decoder layers x 5 targets, 2 CLIP layers x q/k/v)", len(a.Layers))
	}
}

// TestRunSyntheticPhi3V: the same on a Phi-3.5-V checkpoint with VLM2Vec's
// default targets: the Phi-3 decoder's fused projections (qkv_proj,
// gate_up_proj), o_proj, down_proj and CLIP's q/k/v/out_proj; one crop per
// image to keep it short.
func TestRunSyntheticPhi3V(t *testing.T) {
	dir := t.TempDir()
	f := &flags{
		modelName: filepath.Join("..", "..", "encoder", "phi3v", "testdata", "tiny-phi3v"),
		outputDir: filepath.Join(dir, "run"), synthetic: filepath.Join(dir, "shapes"), sampler: "v2",
		schedule: "linear", targets: "qkv_proj,o_proj,gate_up_proj,down_proj,k_proj,q_proj,out_proj,v_proj", lora: true, useDora: true, numCrops: 1,
		loraR: 4, loraAlpha: 16, loraDropout: 0.1, temperature: 0.02, batch: 8, qChunk: 4, pChunk: 4,
		lr: 2e-3, warmup: 2, maxGradNorm: 1, maxSteps: 30, saveSteps: 100, saveLimit: 1, evalSteps: 30, seed: 1,
	}
	if err := run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	recs, err := gradcache.ReadMetrics(filepath.Join(f.outputDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for _, r := range recs {
		if r.Loss > 0 {
			losses = append(losses, r.Loss)
		}
	}
	mean := func(x []float64) float64 { return (x[0] + x[1] + x[2]) / 3 }
	first, last := mean(losses[:3]), mean(losses[len(losses)-3:])
	t.Logf("loss %.3f -> %.3f; eval %+v -> %+v", first, last, recs[0].Eval, recs[len(recs)-1].Eval)
	if len(losses) < 30 || !(last < 0.75*first) || !(last < math.Log(8)) {
		t.Fatalf("mean loss of the first 3 steps %.3f, of the last 3 %.3f (%d steps): not learning", first, last, len(losses))
	}
	a, err := peft.Load(filepath.Join(f.outputDir, "adapter"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Layers) != 2*4+2*4 {
		t.Errorf("adapter has %d layers, want 16 (2 decoder and 2 CLIP layers x 4 targets)", len(a.Layers))
	}
}

// TestRunSyntheticQwen3VL: LoRA through GradCache learns on a Qwen3-VL
// checkpoint (the DeepStack and M-RoPE graph inside the training step), with
// Qwen3-VL-Embedding's template: the loss falls and the adapter covers the
// seven decoder projections of every layer.
func TestRunSyntheticQwen3VL(t *testing.T) {
	dir := t.TempDir()
	f := &flags{
		modelName: filepath.Join("..", "..", "encoder", "qwen3vl", "testdata", "tiny"),
		outputDir: filepath.Join(dir, "run"), synthetic: filepath.Join(dir, "shapes"), sampler: "v2",
		schedule: "linear", targets: "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", lora: true,
		loraR: 4, loraAlpha: 16, loraDropout: 0.1, temperature: 0.02, batch: 8, qChunk: 4, pChunk: 4,
		lr: 2e-3, warmup: 2, maxGradNorm: 1, maxSteps: 30, saveSteps: 100, saveLimit: 1, evalSteps: 30, seed: 1,
	}
	if err := run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	recs, err := gradcache.ReadMetrics(filepath.Join(f.outputDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for _, r := range recs {
		if r.Loss > 0 {
			losses = append(losses, r.Loss)
		}
	}
	mean := func(x []float64) float64 { return (x[0] + x[1] + x[2]) / 3 }
	first, last := mean(losses[:3]), mean(losses[len(losses)-3:])
	t.Logf("loss %.3f -> %.3f; eval %+v -> %+v", first, last, recs[0].Eval, recs[len(recs)-1].Eval)
	if len(losses) < 30 || !(last < 0.75*first) || !(last < math.Log(8)) {
		t.Fatalf("mean loss of the first 3 steps %.3f, of the last 3 %.3f (%d steps): not learning", first, last, len(losses))
	}
	a, err := peft.Load(filepath.Join(f.outputDir, "adapter"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Layers) != 4*7 {
		t.Errorf("adapter has %d layers, want 28 (4 decoder layers x 7 targets)", len(a.Layers))
	}
}
