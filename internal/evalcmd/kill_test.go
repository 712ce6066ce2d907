package evalcmd

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The child side of TestKilledRunsResume: with EVAL_MMEB_CHILD set, the
// test binary is the command, run on the arguments in that variable.
func TestMain(m *testing.M) {
	if args := os.Getenv("EVAL_MMEB_CHILD"); args != "" {
		var stdout, stderr bytes.Buffer
		if err := run(strings.Split(args, "\x1f"), &stdout, &stderr); err != nil {
			os.Stderr.Write(stderr.Bytes())
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKilledRunsResume: eval_mmeb killed with SIGKILL at random moments
// (10 times, into the same output and cache directories) never leaves a
// score, report or cache file half-written, and a final run gives the
// scores of an uninterrupted one.
func TestKilledRunsResume(t *testing.T) {
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	args := func(out string) []string {
		return []string{
			"--data", filepath.Join(s, "MMEB-eval") + "," + filepath.Join(s, "visdoc") + "," + filepath.Join(s, "video"),
			"--images", filepath.Join(s, "images"), "--pages", filepath.Join(s, "visdoc-images"), "--frames", filepath.Join(s, "frames"),
			"--out", out, "--quiet", "--batch", "2", "--embedder", "trivial",
		}
	}
	clean := t.TempDir()
	start := time.Now()
	var stdout, stderr bytes.Buffer
	if err := run(args(clean), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	full := time.Since(start)
	want, err := os.ReadFile(filepath.Join(clean, "all_scores.json"))
	if err != nil {
		t.Fatal(err)
	}

	child := func(out string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "EVAL_MMEB_CHILD="+strings.Join(args(out), "\x1f"))
		return cmd
	}
	// How long a whole run takes as a process, start-up included.
	start = time.Now()
	if err := child(t.TempDir()).Run(); err != nil {
		t.Fatal(err)
	}
	life := time.Since(start)

	out := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	killed := 0
	for trial := 0; trial < 10; trial++ {
		cmd := child(out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(life))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		}
		checkComplete(t, out)
	}
	t.Logf("a run takes %v in process, %v as a process; %d of 10 runs killed before they finished", full, life, killed)
	if killed < 3 {
		t.Fatalf("only %d runs were killed before finishing: the kill times miss the run", killed)
	}
	stdout.Reset()
	if err := run(args(out), &stdout, &stderr); err != nil {
		t.Fatalf("final run: %v\n%s", err, stderr.String())
	}
	checkComplete(t, out)
	got, err := os.ReadFile(filepath.Join(out, "all_scores.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(undated(got), undated(want)) {
		t.Errorf("scores after %d killed runs differ from an uninterrupted run:\n%s\nwant\n%s", killed, got, want)
	}
}

// checkComplete fails on any file under dir that is not whole: a JSON file
// that does not parse, a PNG that does not decode, an empty report. Temp
// files of interrupted atomic writes (".name.tmp-*") are litter the next
// run's writes ignore; they are allowed.
func checkComplete(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.Contains(info.Name(), ".tmp-") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".json":
			var v any
			if json.Unmarshal(data, &v) != nil {
				t.Errorf("%s is not whole JSON (%d bytes)", p, len(data))
			}
		case ".png":
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				t.Errorf("%s is not a whole PNG: %v", p, err)
			}
		case ".md", ".txt":
			if len(data) == 0 {
				t.Errorf("%s is empty", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// undated drops the report's generation time, the one line that differs
// between two runs of the same evaluation.
func undated(report []byte) []byte {
	return regexp.MustCompile(`"report_generated_date": "[^"]*"`).ReplaceAll(report, nil)
}
