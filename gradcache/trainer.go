package gradcache

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/safetensors"
	"github.com/org/vlm2vec/internal/atomicfile"
	"github.com/org/vlm2vec/internal/plot"
	"github.com/schollz/progressbar/v3"
)

// Batcher supplies training batches as GradCache chunks. Its state is saved
// in checkpoints so a resumed run sees the same data in the same order.
type Batcher interface {
	// Next returns the chunks of the batch for the given step (dropout
	// seeds may depend on it), the number of real examples, and how many
	// rows were skipped as unreadable while building it.
	Next(ctx context.Context, step int) (queries, targets []Chunk, examples, skipped int, err error)
	State() ([]byte, error)
	Restore(state []byte) error
}

// Config is the training recipe. Names follow the Hugging Face Trainer
// arguments VLM2Vec's scripts pass.
type Config struct {
	MaxSteps     int
	LearningRate float64
	WarmupSteps  int
	// Schedule: "linear" (the Trainer's default: warm up from 0, decay to
	// 0 at MaxSteps), "cosine" or "constant" (after warmup).
	Schedule string
	AdamW    AdamW
	// OutputDir receives checkpoint-<step>/ directories, metrics.jsonl and
	// loss.png.
	OutputDir      string
	SaveSteps      int // checkpoint every N steps (0: only at the end)
	SaveTotalLimit int // keep the newest K checkpoints (0: all)
	// LogWriter gets the progress bar (os.Stderr when nil; io.Discard to hide).
	LogWriter io.Writer
}

// Trainer runs GradCache steps with AdamW, checkpoints, resume, metrics
// and a progress bar.
type Trainer struct {
	cfg     Config
	gc      *GradCache
	opt     *Optimizer
	batches Batcher
	// SaveExtra, if set, writes extra files into each checkpoint directory
	// before it is published (e.g. a PEFT adapter).
	SaveExtra func(dir string) error
	// Eval, if set, runs every EvalSteps steps and at the end; its metrics
	// are logged with the step.
	Eval      func(ctx context.Context, step int) (map[string]float64, error)
	EvalSteps int

	history []Record
}

// Record is one line of metrics.jsonl.
type Record struct {
	Step        int                `json:"step"`
	Loss        float64            `json:"loss,omitempty"`
	LR          float64            `json:"lr,omitempty"`
	GradNorm    float64            `json:"grad_norm,omitempty"`
	ExamplesSec float64            `json:"examples_per_sec,omitempty"`
	Skipped     int                `json:"skipped_rows,omitempty"`
	Eval        map[string]float64 `json:"eval,omitempty"`
}

// NewTrainer checks the config and wires the pieces.
func NewTrainer(gc *GradCache, opt *Optimizer, batches Batcher, cfg Config) (*Trainer, error) {
	if cfg.MaxSteps <= 0 || cfg.LearningRate <= 0 || cfg.WarmupSteps < 0 || cfg.SaveSteps < 0 || cfg.SaveTotalLimit < 0 {
		return nil, fmt.Errorf("gradcache: invalid training config %+v", cfg)
	}
	switch cfg.Schedule {
	case "":
		cfg.Schedule = "linear"
	case "linear", "cosine", "constant":
	default:
		return nil, fmt.Errorf("gradcache: unknown schedule %q", cfg.Schedule)
	}
	if cfg.OutputDir == "" {
		return nil, fmt.Errorf("gradcache: OutputDir is required")
	}
	if cfg.LogWriter == nil {
		cfg.LogWriter = os.Stderr
	}
	return &Trainer{cfg: cfg, gc: gc, opt: opt, batches: batches}, nil
}

// LearningRateAt is the schedule's value for a step (1-based), as the
// Trainer's get_linear_schedule_with_warmup / cosine schedule compute it
// for the update that step performs.
func (c Config) LearningRateAt(step int) float64 {
	s := float64(step - 1) // the scheduler has stepped (step-1) times before update #step
	w := float64(c.WarmupSteps)
	if s < w {
		return c.LearningRate * s / math.Max(1, w)
	}
	total := float64(c.MaxSteps)
	switch c.Schedule {
	case "constant":
		return c.LearningRate
	case "cosine":
		progress := (s - w) / math.Max(1, total-w)
		return c.LearningRate * math.Max(0, 0.5*(1+math.Cos(math.Pi*progress)))
	default:
		return c.LearningRate * math.Max(0, (total-s)/math.Max(1, total-w))
	}
}

// ErrNonFinite reports a NaN or infinite loss; the run stops at that step.
var ErrNonFinite = errors.New("gradcache: loss is not finite")

// Run trains from the latest checkpoint in OutputDir (or from scratch) to
// MaxSteps and returns the metrics of the steps it ran.
func (t *Trainer) Run(ctx context.Context) ([]Record, error) {
	if err := os.MkdirAll(t.cfg.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("gradcache: %w", err)
	}
	start, err := t.resume()
	if err != nil {
		return nil, err
	}
	bar := progressbar.NewOptions(t.cfg.MaxSteps,
		progressbar.OptionSetWriter(t.cfg.LogWriter),
		progressbar.OptionSetDescription("train"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(t.cfg.LogWriter) }),
	)
	_ = bar.Set(start)
	var ran []Record
	if start == 0 && t.Eval != nil {
		// The untrained model's score anchors the learning curve.
		ev, err := t.Eval(ctx, 0)
		if err != nil {
			return nil, fmt.Errorf("gradcache: eval before training: %w", err)
		}
		if err := t.log(Record{Step: 0, Eval: ev}); err != nil {
			return nil, err
		}
	}
	for step := start + 1; step <= t.cfg.MaxSteps; step++ {
		if err := ctx.Err(); err != nil {
			return ran, err
		}
		began := time.Now()
		q, tg, n, skipped, err := t.batches.Next(ctx, step)
		if err != nil {
			return ran, fmt.Errorf("gradcache: step %d: data: %w", step, err)
		}
		loss, err := t.gc.Accumulate(ctx, q, tg)
		if err != nil {
			return ran, fmt.Errorf("gradcache: step %d: %w", step, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			t.gc.ZeroGradients()
			return ran, fmt.Errorf("%w at step %d (loss %v); weights are those of step %d", ErrNonFinite, step, loss, step-1)
		}
		lr := t.cfg.LearningRateAt(step)
		norm, err := t.opt.Apply(lr)
		if err != nil {
			return ran, fmt.Errorf("gradcache: step %d: %w", step, err)
		}
		rec := Record{Step: step, Loss: loss, LR: lr, GradNorm: norm, Skipped: skipped,
			ExamplesSec: float64(n) / time.Since(began).Seconds()}
		if t.Eval != nil && t.EvalSteps > 0 && (step%t.EvalSteps == 0 || step == t.cfg.MaxSteps) {
			if rec.Eval, err = t.Eval(ctx, step); err != nil {
				return ran, fmt.Errorf("gradcache: step %d: eval: %w", step, err)
			}
		}
		if err := t.log(rec); err != nil {
			return ran, err
		}
		ran = append(ran, rec)
		bar.Describe(fmt.Sprintf("train loss %.4f lr %.2e %.1f ex/s", loss, lr, rec.ExamplesSec))
		_ = bar.Set(step)
		if (t.cfg.SaveSteps > 0 && step%t.cfg.SaveSteps == 0) || step == t.cfg.MaxSteps {
			if err := t.save(step); err != nil {
				// The previous checkpoint is untouched (saves are atomic):
				// a rerun resumes from it.
				return ran, fmt.Errorf("gradcache: saving checkpoint %d in %s (the last good checkpoint is kept; rerun to resume from it): %w", step, t.cfg.OutputDir, err)
			}
		}
	}
	return ran, t.plot()
}

// log appends a record to metrics.jsonl (rewritten atomically, so a crash
// never leaves a torn line).
func (t *Trainer) log(r Record) error {
	t.history = append(t.history, r)
	var buf bytes.Buffer
	for _, h := range t.history {
		line, err := json.Marshal(h)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return atomicfile.WriteBytes(filepath.Join(t.cfg.OutputDir, "metrics.jsonl"), buf.Bytes(), 0o644)
}

// plot draws loss.png: the loss curve, and the first eval metric if any.
func (t *Trainer) plot() error {
	if len(t.history) == 0 {
		return nil
	}
	loss := plot.Series{Name: "loss (log)", LogY: true}
	var evalName string
	for _, h := range t.history {
		if h.Step > 0 {
			loss.X = append(loss.X, float64(h.Step))
			loss.Y = append(loss.Y, h.Loss)
		}
		for k := range h.Eval {
			// Plot "mean" when there is one, else the first metric by name.
			if evalName != "mean" && (k == "mean" || evalName == "" || k < evalName) {
				evalName = k
			}
		}
	}
	series := []plot.Series{loss}
	if evalName != "" {
		ev := plot.Series{Name: evalName}
		for _, h := range t.history {
			if v, ok := h.Eval[evalName]; ok {
				ev.X = append(ev.X, float64(h.Step))
				ev.Y = append(ev.Y, v)
			}
		}
		series = append(series, ev)
	}
	var buf bytes.Buffer
	if err := plot.Lines(&buf, "training", "step", series...); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(t.cfg.OutputDir, "loss.png"), buf.Bytes(), 0o644)
}

// Checkpoint layout: checkpoint-<step>/ with state.safetensors (trainable
// variables, optimizer moments and step, gradient accumulators excluded)
// and trainer_state.json (data-order state and metrics). It is written
// under a temporary name and renamed into place, so a kill at any moment
// leaves either the complete checkpoint or none.
const (
	checkpointPrefix = "checkpoint-"
	stateFile        = "state.safetensors"
	trainerFile      = "trainer_state.json"
)

type trainerState struct {
	Step    int      `json:"step"`
	Batcher []byte   `json:"batcher_state"`
	History []Record `json:"history"`
}

func (t *Trainer) stateVariables() []*model.Variable {
	vars := append([]*model.Variable{}, t.gc.vars...)
	vars = append(vars, t.opt.m...)
	vars = append(vars, t.opt.v...)
	return append(vars, t.opt.step)
}

func (t *Trainer) save(step int) error {
	final := filepath.Join(t.cfg.OutputDir, fmt.Sprintf("%s%d", checkpointPrefix, step))
	tmp, err := os.MkdirTemp(t.cfg.OutputDir, ".tmp-"+checkpointPrefix)
	if err != nil {
		return fmt.Errorf("gradcache: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	var ts []safetensors.TensorData
	for _, v := range t.stateVariables() {
		val, err := v.Value()
		if err != nil {
			return err
		}
		st, err := safetensors.FromGoMLX(val.DType())
		if err != nil {
			return err
		}
		var raw []byte
		if err := val.ConstBytes(func(b []byte) { raw = append([]byte(nil), b...) }); err != nil {
			return err
		}
		ts = append(ts, safetensors.TensorData{Name: v.Path(), DType: st, Shape: val.Shape().Dimensions, Data: raw})
	}
	if err := safetensors.Write(filepath.Join(tmp, stateFile), ts, map[string]string{"step": strconv.Itoa(step)}); err != nil {
		return err
	}
	bs, err := t.batches.State()
	if err != nil {
		return fmt.Errorf("gradcache: batcher state: %w", err)
	}
	js, err := json.Marshal(trainerState{Step: step, Batcher: bs, History: t.history})
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, trainerFile), js, 0o644); err != nil {
		return err
	}
	if t.SaveExtra != nil {
		if err := t.SaveExtra(tmp); err != nil {
			return fmt.Errorf("gradcache: saving extra checkpoint files: %w", err)
		}
	}
	_ = os.RemoveAll(final) // a re-run of the same step replaces it
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("gradcache: %w", err)
	}
	if d, err := os.Open(t.cfg.OutputDir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return t.prune()
}

// checkpoints lists complete checkpoint steps, ascending.
func checkpoints(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), checkpointPrefix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), checkpointPrefix))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), trainerFile)); err == nil {
			steps = append(steps, n)
		}
	}
	sort.Ints(steps)
	return steps, nil
}

func (t *Trainer) prune() error {
	if t.cfg.SaveTotalLimit == 0 {
		return nil
	}
	steps, err := checkpoints(t.cfg.OutputDir)
	if err != nil {
		return err
	}
	for len(steps) > t.cfg.SaveTotalLimit {
		if err := os.RemoveAll(filepath.Join(t.cfg.OutputDir, fmt.Sprintf("%s%d", checkpointPrefix, steps[0]))); err != nil {
			return err
		}
		steps = steps[1:]
	}
	return nil
}

// resume restores the newest complete checkpoint, if any, and returns its
// step. Leftover temporary directories of an interrupted save are removed.
func (t *Trainer) resume() (int, error) {
	entries, _ := os.ReadDir(t.cfg.OutputDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-"+checkpointPrefix) {
			_ = os.RemoveAll(filepath.Join(t.cfg.OutputDir, e.Name()))
		}
	}
	steps, err := checkpoints(t.cfg.OutputDir)
	if err != nil || len(steps) == 0 {
		return 0, err
	}
	step := steps[len(steps)-1]
	dir := filepath.Join(t.cfg.OutputDir, fmt.Sprintf("%s%d", checkpointPrefix, step))
	raw, err := os.ReadFile(filepath.Join(dir, trainerFile))
	if err != nil {
		return 0, fmt.Errorf("gradcache: resume: %w", err)
	}
	var st trainerState
	if err := json.Unmarshal(raw, &st); err != nil {
		return 0, fmt.Errorf("gradcache: resume: %s: %w", trainerFile, err)
	}
	ckpt, err := safetensors.OpenFiles(filepath.Join(dir, stateFile))
	if err != nil {
		return 0, fmt.Errorf("gradcache: resume: %w", err)
	}
	defer ckpt.Close()
	for _, v := range t.stateVariables() {
		info, ok := ckpt.Info(v.Path())
		if !ok {
			return 0, fmt.Errorf("gradcache: resume: checkpoint %s lacks %s", dir, v.Path())
		}
		if fmt.Sprint(info.Shape) != fmt.Sprint(v.Shape().Dimensions) {
			return 0, fmt.Errorf("gradcache: resume: %s has shape %v in the checkpoint, %v in the model", v.Path(), info.Shape, v.Shape().Dimensions)
		}
		val := tensors.FromShape(v.Shape())
		if err := ckpt.Read(v.Path(), func(_ safetensors.TensorInfo, b []byte) error {
			return val.MutableBytes(func(dst []byte) { copy(dst, b) })
		}); err != nil {
			return 0, err
		}
		if err := v.SetValue(val); err != nil {
			return 0, err
		}
	}
	if err := t.batches.Restore(st.Batcher); err != nil {
		return 0, fmt.Errorf("gradcache: resume: batcher: %w", err)
	}
	if err := t.gc.refresh(); err != nil {
		return 0, err
	}
	t.history = st.History
	t.gc.ZeroGradients()
	return step, nil
}

// ReadMetrics parses a metrics.jsonl file.
func ReadMetrics(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("gradcache: %s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
