package evalcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunSynthetic(t *testing.T) {
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	out := t.TempDir()
	args := []string{
		"--data", filepath.Join(s, "MMEB-eval") + "," + filepath.Join(s, "visdoc") + "," + filepath.Join(s, "video"),
		"--images", filepath.Join(s, "images"), "--pages", filepath.Join(s, "visdoc-images"), "--frames", filepath.Join(s, "frames"),
		"--out", out, "--quiet",
	}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got := stdout.String()
	for _, want := range []string{
		"| VOC2007 | CLS | hit@1 | 75.00 | 20 | 2 |",
		"| ViDoRe_arxivqa | VDRv1 | ndcg_linear@5 | 77.78 | 9 | 2 |",
		"| 75.0 (1/10) | 60.0 (1/10) | 50.0 (1/12) | 80.0 (1/4) | 61.7 (3/20) | 80.0 (1/16) | 66.3 (4/36) |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, f := range []string{"VOC2007_score.json", "VOC2007_problems.txt", "all_scores.json", "table.md", "scores.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// A second run with --limit reuses the cache and still works.
	stdout.Reset()
	if err := run(append(args, "--datasets", "VOC2007", "--limit", "4"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "| VOC2007 | CLS | hit@1 | 75.00 | 4 | 0 |") {
		t.Errorf("limited run:\n%s", stdout.String())
	}
	if err := run([]string{"--data", s, "--embedder", "nope"}, &stdout, &stderr); err == nil {
		t.Error("unknown embedder accepted")
	}
}

// The synthetic sets through the tiny random Qwen2-VL test checkpoint:
// the scores of a random model are arbitrary, but every stage (prompt
// swap, image loading, batching, cache) must run.
func TestRunTinyCheckpoint(t *testing.T) {
	model := filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-a")
	if _, err := os.Stat(model); err != nil {
		t.Skip("tiny checkpoint not present")
	}
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	out := t.TempDir()
	args := []string{"--data", filepath.Join(s, "MMEB-eval") + "," + filepath.Join(s, "visdoc") + "," + filepath.Join(s, "video"),
		"--images", filepath.Join(s, "images"), "--pages", filepath.Join(s, "visdoc-images"), "--frames", filepath.Join(s, "frames"),
		"--datasets", "VOC2007,MSCOCO_t2i,ViDoRe_arxivqa,HMDB51", "--limit", "4",
		"--embedder", "encoder", "--model", model, "--backend", "go", "--batch", "4", "--out", out, "--quiet"}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"| VOC2007 | CLS | hit@1 |", "| MSCOCO_t2i | RET | hit@1 |", "| ViDoRe_arxivqa | VDRv1 | ndcg_linear@5 |", "| HMDB51 | V-CLS | hit@1 |"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	t.Logf("\n%s", stdout.String())
}
