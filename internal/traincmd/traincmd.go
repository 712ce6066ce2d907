// Package traincmd is the training command (examples/train_lora and
// "vlm2vec train"): LoRA/DoRA or full fine-tuning of a backbone into a
// VLM2Vec embedder with GradCache. See Run.
package traincmd

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/gradcache"
	"github.com/org/vlm2vec/loss"
	"github.com/org/vlm2vec/mmeb"
	"github.com/org/vlm2vec/mmeb/traindata"
)

type flags struct {
	modelName, outputDir, datasetDir, imageDir, synthetic, subsets, sampler, schedule, targets, backend                   string
	lora, useDora, bf16                                                                                                   bool
	loraR, batch, qChunk, pChunk, maxSteps, warmup, saveSteps, saveLimit, limit, interleave, evalSteps, devices, numCrops int
	loraAlpha, loraDropout, temperature, lr, weightDecay, maxGradNorm                                                     float64
	seed                                                                                                                  uint64
}

func parse(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("train_lora", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.modelName, "model_name", "encoder/qwen2vl/testdata/tiny-a", "base checkpoint directory (any family the encoder knows: Qwen2-VL, GME, LLaVA-NeXT, Phi-3.5-V)")
	fs.IntVar(&f.numCrops, "num_crops", 0, "Phi-3.5-V HD-transform crops (0: the checkpoint's preprocessor_config.json; VLM2Vec's paper runs use 4)")
	fs.StringVar(&f.outputDir, "output_dir", "", "checkpoints, metrics.jsonl, loss.png and the final adapter go here (required)")
	fs.StringVar(&f.datasetDir, "dataset_dir", "", "MMEB-train data: <dir>/<Subset>.jsonl or <dir>/<Subset>/*.parquet")
	fs.StringVar(&f.imageDir, "image_dir", "", "root of relative image paths (default: the dataset directory)")
	fs.StringVar(&f.synthetic, "synthetic", "", "write the synthetic shapes dataset here and train on it (overrides --dataset_dir)")
	fs.StringVar(&f.subsets, "subset_name", "", "comma-separated subsets to use (default: all found)")
	fs.IntVar(&f.limit, "num_sample_per_subset", 0, "first N rows of each subset (0: all)")
	fs.StringVar(&f.sampler, "sampler", "v1", "v1: uniform shuffle over all subsets; v2: interleaved homogeneous runs")
	fs.IntVar(&f.interleave, "interleave_batch_size", 0, "v2 run length (0: the batch size)")
	fs.BoolVar(&f.lora, "lora", true, "train a LoRA adapter (false: full fine-tuning)")
	fs.BoolVar(&f.useDora, "use_dora", true, "DoRA, as VLM2Vec configures PEFT")
	fs.IntVar(&f.loraR, "lora_r", 16, "LoRA rank")
	fs.Float64Var(&f.loraAlpha, "lora_alpha", 64, "LoRA alpha (scale alpha/r)")
	fs.Float64Var(&f.loraDropout, "lora_dropout", 0.1, "LoRA dropout")
	fs.StringVar(&f.targets, "lora_target_modules", "qkv_proj,o_proj,gate_up_proj,down_proj,k_proj,q_proj,out_proj,v_proj", "module-name suffixes to adapt")
	fs.Float64Var(&f.temperature, "temperature", 0.02, "InfoNCE temperature")
	fs.IntVar(&f.batch, "per_device_train_batch_size", 16, "contrastive batch size (in-batch negatives)")
	fs.IntVar(&f.qChunk, "gc_q_chunk_size", 4, "GradCache query chunk size")
	fs.IntVar(&f.pChunk, "gc_p_chunk_size", 4, "GradCache target chunk size")
	fs.Float64Var(&f.lr, "learning_rate", 5e-4, "peak learning rate")
	fs.StringVar(&f.schedule, "lr_scheduler_type", "linear", "linear, cosine or constant")
	fs.IntVar(&f.warmup, "warmup_steps", 5, "linear warmup steps")
	fs.Float64Var(&f.weightDecay, "weight_decay", 0, "AdamW decoupled weight decay")
	fs.Float64Var(&f.maxGradNorm, "max_grad_norm", 1, "global gradient-norm clipping (0: off)")
	fs.IntVar(&f.maxSteps, "max_steps", 60, "optimizer steps")
	fs.IntVar(&f.saveSteps, "save_steps", 20, "checkpoint every N steps")
	fs.IntVar(&f.saveLimit, "save_total_limit", 2, "keep the newest N checkpoints")
	fs.IntVar(&f.evalSteps, "eval_steps", 10, "held-out Hit@1 every N steps (synthetic data or --eval_dir layout)")
	fs.Uint64Var(&f.seed, "seed", 42, "seed of data order, adapter init and dropout")
	fs.BoolVar(&f.bf16, "bf16", false, "bf16 compute (adapter weights stay float32)")
	fs.StringVar(&f.backend, "backend", "", `"go" (default), "xla:cpu", "xla:cuda"`)
	fs.IntVar(&f.devices, "devices", 1, "data-parallel devices of the backend (XLA); the global batch is per_device_train_batch_size x devices")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return f, nil
}

// Run parses args (flags as examples/train_lora documents them) and trains.
func Run(ctx context.Context, args []string, stderr io.Writer) error {
	f, err := parse(args, stderr)
	if err != nil {
		return err
	}
	return run(ctx, f)
}

func run(ctx context.Context, f *flags) error {
	if f.outputDir == "" {
		return fmt.Errorf("--output_dir is required")
	}
	if f.devices < 0 {
		return fmt.Errorf("--devices %d", f.devices)
	}
	f.devices = max(f.devices, 1)
	evalDir := ""
	if f.synthetic != "" {
		if _, err := os.Stat(filepath.Join(f.synthetic, "train")); err != nil {
			fmt.Printf("writing the synthetic shapes dataset to %s\n", f.synthetic)
			if err := traindata.Synthesize(f.synthetic, traindata.SynthOptions{Seed: 7}); err != nil {
				return err
			}
		}
		f.datasetDir = filepath.Join(f.synthetic, "train")
		f.imageDir = f.synthetic
		evalDir = filepath.Join(f.synthetic, "eval")
	}
	if f.datasetDir == "" {
		return fmt.Errorf("give --dataset_dir or --synthetic")
	}
	if f.imageDir == "" {
		f.imageDir = f.datasetDir
	}
	opts := traindata.LoadOptions{ImageRoot: f.imageDir, Limit: f.limit, SkipNegatives: true}
	if f.subsets != "" {
		opts.Subsets = strings.Split(f.subsets, ",")
	}
	subsets, stats, err := traindata.LoadDir(f.datasetDir, opts)
	if err != nil {
		return err
	}
	fmt.Printf("data: %s\n", stats)
	var sampler traindata.Sampler
	switch f.sampler {
	case "v1":
		sampler, err = traindata.NewUniform(traindata.Concat(subsets), f.batch*f.devices, f.seed)
	case "v2":
		run := f.interleave
		if run <= 0 {
			run = f.batch * f.devices
		}
		var sources []traindata.Source
		for _, s := range subsets {
			sources = append(sources, traindata.Source{Name: s.Name, Examples: s.Examples, Weight: 1})
		}
		sampler, err = traindata.NewInterleaved(sources, f.batch*f.devices, run, f.seed)
	default:
		return fmt.Errorf("--sampler %q (v1 or v2)", f.sampler)
	}
	if err != nil {
		return err
	}

	// With several devices a chunk holds every device's rows: device d
	// computes rows [d*chunk, (d+1)*chunk) of each, as in per-device GradCache.
	qChunk, pChunk := f.qChunk*f.devices, f.pChunk*f.devices
	encOpts := []encoder.Option{encoder.WithBackendConfig(f.backend), encoder.WithBatchSize(max(qChunk, pChunk))}
	if f.numCrops > 0 {
		encOpts = append(encOpts, encoder.WithNumCrops(f.numCrops))
	}
	if f.bf16 {
		encOpts = append(encOpts, encoder.WithDType(dtypes.BFloat16))
	}
	enc, err := encoder.Open(ctx, f.modelName, encOpts...)
	if err != nil {
		return err
	}
	defer enc.Close()
	m := enc.Model()
	var loraCfg peft.Config
	if f.lora {
		loraCfg = peft.Config{PeftType: "LORA", R: f.loraR, LoraAlpha: f.loraAlpha, LoraDropout: f.loraDropout,
			UseDora: f.useDora, TargetModules: strings.Split(f.targets, ","), Bias: "none", InitLoraWeights: "gaussian",
			BaseModel: f.modelName}
		if err := m.AttachLoRA(loraCfg, nil, f.seed); err != nil {
			return err
		}
	} else {
		m.SetFullFineTuning()
	}
	lossOpts := loss.Options{Temperature: f.temperature}
	gc, err := gradcache.NewDataParallel(m, func(q, t *graph.Node) *graph.Node { return loss.InfoNCE(q, t, lossOpts) }, f.devices)
	if err != nil {
		return err
	}
	adamw := gradcache.DefaultAdamW()
	adamw.WeightDecay, adamw.MaxGradNorm = f.weightDecay, f.maxGradNorm
	opt, err := gradcache.NewOptimizer(gc, adamw)
	if err != nil {
		return err
	}
	tr, err := gradcache.NewTrainer(gc, opt, &batcher{enc: enc, sampler: sampler, qChunk: qChunk, pChunk: pChunk, seed: f.seed},
		gradcache.Config{MaxSteps: f.maxSteps, LearningRate: f.lr, WarmupSteps: f.warmup, Schedule: f.schedule, AdamW: adamw,
			OutputDir: f.outputDir, SaveSteps: f.saveSteps, SaveTotalLimit: f.saveLimit})
	if err != nil {
		return err
	}
	if f.lora {
		tr.SaveExtra = func(dir string) error { return saveAdapter(m, filepath.Join(dir, "adapter")) }
	}
	if evalDir != "" && f.evalSteps > 0 {
		ev, err := newEvaluator(ctx, enc, evalDir, f.synthetic)
		if err != nil {
			return err
		}
		fmt.Printf("held-out evaluation: %d-way retrieval, chance Hit@1 %.1f%%\n", ev.candidates, 100/float64(ev.candidates))
		tr.Eval = func(ctx context.Context, step int) (map[string]float64, error) {
			s, err := ev.hit1(ctx)
			if err == nil && step == 0 {
				fmt.Printf("held-out Hit@1 before training: %s\n", fmtScores(s))
			}
			return s, err
		}
		tr.EvalSteps = f.evalSteps
	}
	recs, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		last := recs[len(recs)-1]
		fmt.Printf("step %d: loss %.4f", last.Step, last.Loss)
		if last.Eval != nil {
			fmt.Printf(", held-out Hit@1 %s", fmtScores(last.Eval))
		}
		fmt.Println()
	}
	if f.lora {
		out := filepath.Join(f.outputDir, "adapter")
		if err := saveAdapter(m, out); err != nil {
			return err
		}
		fmt.Printf("adapter saved to %s (PEFT format); metrics in %s, curve in %s\n", out,
			filepath.Join(f.outputDir, "metrics.jsonl"), filepath.Join(f.outputDir, "loss.png"))
	}
	return nil
}

func saveAdapter(m interface {
	Adapter() (*peft.Adapter, error)
}, dir string) error {
	a, err := m.Adapter()
	if err != nil {
		return err
	}
	return peft.Save(dir, a)
}

func fmtScores(s map[string]float64) string {
	var parts []string
	for _, k := range []string{"ShapesI2T", "ShapesT2I", "mean"} {
		if v, ok := s[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", k, 100*v))
		}
	}
	return strings.Join(parts, ", ")
}

// batcher turns sampler batches into GradCache chunks. Dropout seeds hash
// (seed, step, side, position), so a resumed run replays them.
type batcher struct {
	enc            *encoder.Encoder
	sampler        traindata.Sampler
	qChunk, pChunk int
	seed           uint64
}

func (b *batcher) Next(ctx context.Context, step int) ([]gradcache.Chunk, []gradcache.Chunk, int, int, error) {
	batch, err := b.sampler.Next()
	if err == io.EOF { // epoch boundary: the next call starts a new epoch
		batch, err = b.sampler.Next()
	}
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var qs, ts []encoder.Input
	for _, ex := range batch {
		qs = append(qs, encoder.Input{Prompt: ex.Query, ImagePath: ex.QueryImage})
		ts = append(ts, encoder.Input{Prompt: ex.Positive, ImagePath: ex.PositiveImage})
	}
	q, err := b.chunks(qs, b.qChunk, step, 0)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	t, err := b.chunks(ts, b.pChunk, step, 1)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	return q, t, len(batch), 0, nil
}

func (b *batcher) chunks(inputs []encoder.Input, size, step, side int) ([]gradcache.Chunk, error) {
	var out []gradcache.Chunk
	for start := 0; start < len(inputs); start += size {
		end := min(start+size, len(inputs))
		batch, err := b.enc.Batch(inputs[start:end], size)
		if err != nil {
			return nil, err
		}
		seeds := make([]uint32, size)
		for i := range seeds {
			h := fnv.New32a()
			fmt.Fprintf(h, "%d/%d/%d/%d", b.seed, step, side, start+i)
			seeds[i] = h.Sum32()
		}
		out = append(out, gradcache.Chunk{Inputs: batch.Inputs(), Rows: end - start, Seeds: seeds})
	}
	return out, nil
}

func (b *batcher) State() ([]byte, error)     { return b.sampler.State() }
func (b *batcher) Restore(state []byte) error { return b.sampler.Restore(state) }

// evaluator scores held-out Hit@1 with the MMEB evaluator on the synthetic
// set's MMEB-eval-layout files (10 candidates per query).
type evaluator struct {
	enc        *encoder.Encoder
	sets       []*mmeb.Dataset
	candidates int
}

func newEvaluator(ctx context.Context, enc *encoder.Encoder, dir, imageRoot string) (*evaluator, error) {
	ev := &evaluator{enc: enc, candidates: 10}
	for _, name := range []string{traindata.SynthI2T, traindata.SynthT2I} {
		task := mmeb.Task{Name: name, Meta: mmeb.MetaRET, Ranking: mmeb.Local, Metric: mmeb.MetricHit1, Candidates: 10}
		ds, err := mmeb.LoadV1(ctx, filepath.Join(dir, name), imageRoot, task, mmeb.LoadOptions{})
		if err != nil {
			return nil, err
		}
		ev.sets = append(ev.sets, ds)
	}
	return ev, nil
}

func (ev *evaluator) hit1(ctx context.Context) (map[string]float64, error) {
	// No refresh needed: GradCache's optimizer step already dropped the
	// inference programs that held the old weights.
	out := map[string]float64{}
	var sum float64
	for _, ds := range ev.sets {
		res, err := mmeb.Evaluate(ctx, ev.enc.MMEB("train_lora"), ds, mmeb.Options{BatchSize: 16})
		if err != nil {
			return nil, err
		}
		out[ds.Task.Name] = res.Main()
		sum += res.Main()
	}
	out["mean"] = sum / float64(len(ev.sets))
	return out, nil
}
