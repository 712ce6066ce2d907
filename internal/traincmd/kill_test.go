package traincmd

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/org/vlm2vec/encoder/peft"
)

// The child process of TestKill9DuringTraining: it trains into the
// directory named by the environment until done or killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("TRAIN_LORA_CHILD_DIR"); dir != "" {
		steps, _ := strconv.Atoi(os.Getenv("TRAIN_LORA_CHILD_STEPS"))
		if err := run(context.Background(), killFlags(dir, steps)); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func killFlags(dir string, steps int) *flags {
	return &flags{
		modelName: filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-a"),
		outputDir: filepath.Join(dir, "run"), synthetic: filepath.Join(dir, "shapes"), sampler: "v1",
		schedule: "linear", targets: "q_proj,v_proj", lora: true, useDora: true,
		loraR: 4, loraAlpha: 16, loraDropout: 0.1, temperature: 0.02, batch: 4, qChunk: 2, pChunk: 2,
		lr: 1e-3, warmup: 1, maxGradNorm: 1, maxSteps: steps, saveSteps: 1, saveLimit: 2, seed: 3,
	}
}

// TestKill9DuringTraining kills a training process with SIGKILL just after
// each new checkpoint appears (checkpoints are written every step, so kills
// land in the next step's compute or in its save), restarts it each time, and requires the final adapter
// to be bit-identical to an uninterrupted run's: nothing saved is lost and
// resume replays data order and dropout exactly.
func TestKill9DuringTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns training processes")
	}
	const steps = 12
	straight := t.TempDir()
	if err := run(context.Background(), killFlags(straight, steps)); err != nil {
		t.Fatal(err)
	}
	want, err := peft.Load(filepath.Join(straight, "run", "adapter"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	// Share the synthetic data so the child does not spend its life writing it.
	if err := os.Symlink(filepath.Join(straight, "shapes"), filepath.Join(dir, "shapes")); err != nil {
		t.Fatal(err)
	}
	kills := 0
	newest := func() int {
		steps, _ := filepath.Glob(filepath.Join(dir, "run", "checkpoint-*"))
		best := 0
		for _, p := range steps {
			if n, err := strconv.Atoi(filepath.Base(p)[len("checkpoint-"):]); err == nil && n > best {
				best = n
			}
		}
		return best
	}
	for finished := false; !finished; {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "TRAIN_LORA_CHILD_DIR="+dir, "TRAIN_LORA_CHILD_STEPS="+strconv.Itoa(steps))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Kill shortly after the child publishes a new checkpoint, when it is
		// computing the next step or already writing the next save; the
		// delay varies so kills land at different points of the cycle.
		before := newest()
		deadline := time.After(2 * time.Minute)
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("child failed: %v", err)
				}
				finished = true
				break wait
			case <-deadline:
				t.Fatal("child made no progress in 2 minutes")
			case <-time.After(5 * time.Millisecond):
				if newest() > before {
					time.Sleep(time.Duration(kills*37%150) * time.Millisecond)
					_ = cmd.Process.Kill() // SIGKILL
					<-done
					kills++
					break wait
				}
			}
		}
	}
	if kills == 0 {
		t.Fatal("the child was never killed: the test proves nothing")
	}
	got, err := peft.Load(filepath.Join(dir, "run", "adapter"))
	if err != nil {
		t.Fatalf("after %d kills: %v", kills, err)
	}
	t.Logf("finished after %d SIGKILLs", kills)
	for mod, lw := range want.Layers {
		lg := got.Layers[mod]
		for i := range lw.B {
			if math.Float32bits(lw.B[i]) != math.Float32bits(lg.B[i]) {
				t.Fatalf("%s lora_B[%d]: %v uninterrupted, %v after kills", mod, i, lw.B[i], lg.B[i])
			}
		}
		for i := range lw.A {
			if math.Float32bits(lw.A[i]) != math.Float32bits(lg.A[i]) {
				t.Fatalf("%s lora_A[%d] differs", mod, i)
			}
		}
	}
}
