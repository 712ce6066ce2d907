package gradcache

import (
	"context"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFullDiskFailsCleanlyAndResumes: when the disk refuses the
// checkpoint (a file-size limit makes every write past it fail, as a full
// disk does), training stops with an error naming the file, the last good
// checkpoint stays intact, and a later run resumes from it to the weights
// of an uninterrupted run.
func TestFullDiskFailsCleanlyAndResumes(t *testing.T) {
	ctx := context.Background()
	straight := t.TempDir()
	tr, w := newTrainer(t, straight, 3, infoNCE)
	if _, err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	want := w()
	st, err := os.Stat(filepath.Join(straight, "checkpoint-3", "state.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	tr, _ = newTrainer(t, dir, 1, infoNCE)
	if _, err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// From here every file write past half a checkpoint fails (EFBIG; the
	// signal a process would otherwise get for it is ignored).
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	limit := syscall.Rlimit{Cur: uint64(st.Size() / 2), Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}
	tr, _ = newTrainer(t, dir, 3, infoNCE)
	_, runErr := tr.Run(ctx)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if runErr == nil {
		t.Fatal("training on a full disk reported no error")
	}
	t.Logf("full disk: %v", runErr)
	steps, err := checkpoints(dir)
	if err != nil || len(steps) != 1 || steps[0] != 1 {
		t.Fatalf("checkpoints after the failed save: %v (%v), want [1]", steps, err)
	}

	tr, w2 := newTrainer(t, dir, 3, infoNCE)
	recs, err := tr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Step != 2 {
		t.Fatalf("resumed run did steps %+v", recs)
	}
	got := w2()
	for k, v := range want {
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(got[k][i]) {
				t.Fatalf("%s[%d]: %v uninterrupted, %v after the full disk", k, i, v[i], got[k][i])
			}
		}
	}
}
