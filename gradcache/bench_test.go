package gradcache

// Time and memory of one training step with GradCache and without it, on
// the "small" benchmark checkpoint (tiny-b's architecture) that
// scripts/bench/make_checkpoints.py writes to .cache/bench (or
// $VLM2VEC_BENCH_DIR). scripts/bench/run.sh runs each case in its own
// process (so memory retained by one case cannot hide another's peak) next
// to the same step in PyTorch, and writes docs/BENCHMARKS.md.
//
//	go test ./gradcache -run '^$' -bench 'BenchmarkGradCacheStep/gradcache/batch=64$' -benchtime 3x
//
// A step is: queries = 224x224 images with an instruction (processed to
// 112x112, 64 patches, 16 visual tokens), targets = caption texts, batch N
// of each, chunk 8 for both, LoRA r 8 / alpha 16 / dropout 0.1 on VLM2Vec's
// target modules, InfoNCE at temperature 0.02, then one AdamW update.
//
// Memory is measured per step, from a baseline taken after the chunks'
// input tensors exist (they grow with the batch whatever the algorithm, as
// in the reference): peak-rss-MB is the rise of the process's peak
// resident set (VmHWM, reset through /proc/self/clear_refs after
// debug.FreeOSMemory), peak-heap-MB the rise of the Go heap's object bytes
// (runtime/metrics /memory/classes/heap/objects:bytes, sampled every 0.5 ms;
// it includes garbage not yet collected, and the collector lets garbage grow
// in proportion to the live heap, inputs included, so it rises with the
// batch even when the step's working set does not), peak-live-MB the rise
// of the live heap that each collection during the step marked
// (/gc/heap/live:bytes): the step's working set, sampled at GC ends.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/internal/testutil"
)

// benchData returns n queries (images with instructions) and n targets
// (caption texts), cycling through scripts/bench/inputs.json.
func benchData(b *testing.B, n int) (queries, targets []encoder.Input) {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("..", "scripts", "bench", "inputs.json"))
	if err != nil {
		b.Fatal(err)
	}
	var all struct {
		Text, Image []struct{ Instruction, Text, Image string }
	}
	if err := json.Unmarshal(data, &all); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		im := all.Image[i%len(all.Image)]
		img, err := images.DecodeFile(filepath.Join(testutil.BenchDir(), "images", im.Image), images.Limits{})
		if err != nil {
			b.Fatalf("%v (run scripts/bench/make_checkpoints.py)", err)
		}
		queries = append(queries, encoder.Input{Instruction: im.Instruction, Text: im.Text, Image: img})
		tx := all.Text[i%len(all.Text)]
		targets = append(targets, encoder.Input{Instruction: tx.Instruction, Text: tx.Text})
	}
	return queries, targets
}

// VLM2Vec's LoRA settings (spec §4).
func benchLoRA() peft.Config {
	return peft.Config{
		PeftType: "LORA", R: 8, LoraAlpha: 16, LoraDropout: 0.1, Bias: "none",
		TargetModules: []string{"q_proj", "k_proj", "v_proj", "o_proj", "down_proj", "gate_proj", "up_proj"},
	}
}

// memProbe measures one step's peak memory above the state before it.
type memProbe struct {
	baseRSS, baseHeap, baseLive uint64
	peakHeap, peakLive          uint64
	stop                        chan struct{}
	wg                          sync.WaitGroup
}

// heapBytes returns the heap's object bytes (live and not yet swept
// garbage) and the live heap marked by the last GC.
func heapBytes() (objects, live uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func startProbe() *memProbe {
	runtime.GC()
	debug.FreeOSMemory()
	// "5" resets VmHWM to the current RSS (Linux >= 4.0).
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	p := &memProbe{baseRSS: testutil.ProcStatusKB("VmRSS"), stop: make(chan struct{})}
	p.baseHeap, p.baseLive = heapBytes()
	p.peakHeap, p.peakLive = p.baseHeap, p.baseLive
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				p.sample()
			}
		}
	}()
	return p
}

func (p *memProbe) sample() {
	h, l := heapBytes()
	p.peakHeap, p.peakLive = max(p.peakHeap, h), max(p.peakLive, l)
}

// finish returns the rises of peak RSS, heap objects and live heap in MiB.
func (p *memProbe) finish() (rssMiB, heapMiB, liveMiB float64) {
	close(p.stop)
	p.wg.Wait()
	p.sample()
	hwm := testutil.ProcStatusKB("VmHWM")
	const mib = 1 << 20
	return float64(hwm-min(hwm, p.baseRSS)) / 1024, float64(p.peakHeap-p.baseHeap) / mib, float64(p.peakLive-p.baseLive) / mib
}

// BenchmarkGradCacheStep: ns/op is one training step (gradients for the
// whole batch + one AdamW update). Sub-benchmarks:
// {gradcache,fullbatch}/batch={16,64,256}, chunk 8.
func BenchmarkGradCacheStep(b *testing.B) {
	const chunk = 8
	ckpt := "small" // the GPU run (scripts/gpu) sets VLM2VEC_BENCH_STEP_CKPT=2b
	if c := os.Getenv("VLM2VEC_BENCH_STEP_CKPT"); c != "" {
		ckpt = c
	}
	dir := filepath.Join(testutil.BenchDir(), ckpt)
	for _, mode := range []string{"gradcache", "fullbatch"} {
		for _, n := range []int{16, 64, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", mode, n), func(b *testing.B) {
				if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
					b.Skipf("benchmark checkpoint %s absent: run scripts/bench/make_checkpoints.py or set VLM2VEC_BENCH_DIR", dir)
				}
				ctx := context.Background()
				// 224x224 images become 112x112 (64 patches) under these bounds.
				enc, err := encoder.Open(ctx, dir, encoder.WithPixels(3136, 12544))
				if err != nil {
					b.Fatal(err)
				}
				defer enc.Close()
				m := enc.Model()
				if err := m.AttachLoRA(benchLoRA(), nil, 1); err != nil {
					b.Fatal(err)
				}
				gc, err := New(m, infoNCE)
				if err != nil {
					b.Fatal(err)
				}
				opt, err := NewOptimizer(gc, DefaultAdamW())
				if err != nil {
					b.Fatal(err)
				}
				qs, ts := benchData(b, n)
				qc, tc := chunks(b, enc, qs, chunk, 1), chunks(b, enc, ts, chunk, 2)
				var step func() (float64, error)
				if mode == "gradcache" {
					step = func() (float64, error) { return gc.Accumulate(ctx, qc, tc) }
				} else {
					fb, err := gc.newFullBatch(qc, tc)
					if err != nil {
						b.Fatal(err)
					}
					defer fb.exec.Finalize()
					step = fb.run
				}
				one := func() {
					if _, err := step(); err != nil {
						b.Fatal(err)
					}
					if _, err := opt.Apply(1e-4); err != nil {
						b.Fatal(err)
					}
				}
				// A ballast of live, resident memory (VLM2VEC_BENCH_BALLAST_MB)
				// lets a small batch run with the resident heap of a larger one,
				// which separates the step's own memory from the collector's
				// slack, proportional to the live heap.
				var ballast []float32
				if s := os.Getenv("VLM2VEC_BENCH_BALLAST_MB"); s != "" {
					mb, err := strconv.ParseFloat(s, 64)
					if err != nil || mb < 0 {
						b.Fatalf("VLM2VEC_BENCH_BALLAST_MB=%q", s)
					}
					ballast = make([]float32, int(mb*(1<<20))/4)
					for i := range ballast {
						ballast[i] = 1
					}
				}
				defer runtime.KeepAlive(ballast)
				// Warm-up: compiles every program the step uses.
				t0 := time.Now()
				one()
				first := time.Since(t0)
				var peakRSS, peakHeap, peakLive, baseLive float64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					p := startProbe()
					baseLive = float64(p.baseLive) / (1 << 20)
					b.StartTimer()
					one()
					b.StopTimer()
					r, h, l := p.finish()
					peakRSS, peakHeap, peakLive = max(peakRSS, r), max(peakHeap, h), max(peakLive, l)
					b.StartTimer()
				}
				b.StopTimer()
				b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "examples/s")
				b.ReportMetric(peakRSS, "peak-rss-MB")
				b.ReportMetric(peakHeap, "peak-heap-MB")
				b.ReportMetric(peakLive, "peak-live-MB")
				b.ReportMetric(first.Seconds(), "first-step-s")
				b.ReportMetric(baseLive, "base-live-MB")
				b.ReportMetric(float64(len(ballast))*4/(1<<20), "ballast-MB")
			})
		}
	}
}
