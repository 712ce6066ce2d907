package evalcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/org/vlm2vec/embedio"
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/mmeb"
)

func TestRunSynthetic(t *testing.T) {
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	out := t.TempDir()
	args := []string{
		"--data", filepath.Join(s, "MMEB-eval") + "," + filepath.Join(s, "visdoc") + "," + filepath.Join(s, "video"),
		"--images", filepath.Join(s, "images"), "--pages", filepath.Join(s, "visdoc-images"), "--frames", filepath.Join(s, "frames"),
		"--out", out, "--quiet", "--embedder", "trivial",
	}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got := stdout.String()
	for _, want := range []string{
		"| VOC2007 | CLS | hit@1 | 75.00 | 20 | 2 |",
		"| ViDoRe_arxivqa | VDRv1 | ndcg_linear@5 | 77.78 | 9 | 2 |",
		v2Row(t, s),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, f := range []string{"VOC2007_score.json", "VOC2007_problems.txt", "all_scores.json", "table.md", "scores.png", "v2_table.png", "MomentSeeker_score.json"} {
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

// All 78 synthetic tasks through the tiny random Qwen2-VL test checkpoint
// (two rows each): the scores of a random model are arbitrary, but every
// stage of every task family (prompt swap, image and frame loading,
// batching, cache, reports) must run, and the V2 table must be complete.
func TestRunTinyCheckpoint(t *testing.T) {
	model := filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-a")
	if _, err := os.Stat(model); err != nil {
		t.Fatalf("tiny checkpoint missing: %v", err)
	}
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	out := t.TempDir()
	args := []string{"--data", filepath.Join(s, "MMEB-eval") + "," + filepath.Join(s, "visdoc") + "," + filepath.Join(s, "video"),
		"--images", filepath.Join(s, "images"), "--pages", filepath.Join(s, "visdoc-images"), "--frames", filepath.Join(s, "frames"),
		"--limit", "2", "--model", model, "--backend", "go", "--batch", "8", "--out", out, "--quiet"}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, task := range mmeb.Tasks() {
		want := fmt.Sprintf("| %s | %s | %s |", task.Name, metaLabel(task.Meta), task.Metric)
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	table := stdout.String()[strings.Index(stdout.String(), "## MMEB-V2"):]
	if regexp.MustCompile(`\(\d+/\d+\)`).MatchString(table) {
		t.Errorf("V2 table incomplete:\n%s", table)
	}
	t.Logf("78 tasks in %v\n%s", time.Since(start), table)
}

// metaLabel is the meta-task as the per-dataset table prints it.
func metaLabel(m mmeb.Meta) string {
	if m == mmeb.MetaVG {
		return "GD"
	}
	return string(m)
}

// v2Row is the V2 table row the synthetic benchmark's closed-form scores
// (expected.json: hit@1, NDCG@5 for visual documents) give, all 78 tasks.
func v2Row(t *testing.T, synth string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(synth, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]map[string]any
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	main := map[string]float64{}
	for _, task := range mmeb.Tasks() {
		v, ok := exp[task.Name][task.Metric].(float64)
		if !ok {
			t.Fatalf("expected.json has no %s for %s", task.Metric, task.Name)
		}
		main[task.Name] = v
	}
	md := mmeb.Markdown("x", mmeb.V2Table(main))
	row := md[strings.LastIndex(strings.TrimSuffix(md, "\n"), "\n")+1:]
	if strings.Contains(row, "/") {
		t.Fatalf("synthetic V2 row is incomplete: %s", row)
	}
	return strings.TrimPrefix(strings.TrimSpace(row), "| x ")
}

// TestAggregate prints the tables from existing results: this command's
// own output directory and a reference-layout all-scores file, one row
// each, with the datasets they lack named; the score files alone give the
// same V2 row as the run that wrote them.
func TestAggregate(t *testing.T) {
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	run1 := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run([]string{"--data", filepath.Join(s, "MMEB-eval") + "," + filepath.Join(s, "visdoc") + "," + filepath.Join(s, "video"),
		"--images", filepath.Join(s, "images"), "--pages", filepath.Join(s, "visdoc-images"), "--frames", filepath.Join(s, "frames"),
		"--embedder", "trivial", "--quiet", "--out", run1}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	ref := filepath.Join("..", "..", "mmeb", "testdata", "allscores", "run_all_scores.json")
	out := t.TempDir()
	stdout.Reset()
	stderr.Reset()
	if err := run([]string{"--aggregate", "--out", out, run1, ref}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got := stdout.String()
	if !strings.Contains(got, v2Row(t, s)) {
		t.Errorf("aggregate lacks the synthetic run's V2 row %q:\n%s", v2Row(t, s), got)
	}
	if !strings.Contains(got, "| modèle ✓ run |") || !strings.Contains(stderr.String(), "modèle ✓ run: no scores for 71 of 78 datasets") {
		t.Errorf("reference report row or its missing datasets not shown:\n%s\n%s", got, stderr.String())
	}
	for _, f := range []string{"table.md", "v2_table.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if err := run([]string{"--aggregate"}, &stdout, &stderr); err == nil {
		t.Error("--aggregate without sources accepted")
	}
	// Selected datasets that are not there are reported, not fatal.
	stderr.Reset()
	err = run([]string{"--data", filepath.Join(s, "video"), "--frames", filepath.Join(s, "frames"), "--datasets", "HMDB51,VOC2007",
		"--embedder", "trivial", "--quiet"}, &stdout, &stderr)
	if err != nil || !strings.Contains(stderr.String(), "1 selected datasets not found under --data, left out: VOC2007") {
		t.Errorf("missing dataset: %v\n%s", err, stderr.String())
	}
	if err := run([]string{"--data", s}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--model") {
		t.Errorf("no model and no embedder: %v", err)
	}
}

// TestExportImportEmbeddings: the items of an evaluation go out as embed
// inputs (parsed strictly as the embed command parses them), are embedded
// elsewhere (here: embedio.EmbedGroup, the embed command's and the Beam
// transform's path, on the tiny checkpoint) and come back through
// --import-embeddings; the evaluation then needs no model and scores as
// the in-process evaluation with the same checkpoint does.
func TestExportImportEmbeddings(t *testing.T) {
	model := filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-a")
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	common := []string{"--data", filepath.Join(s, "MMEB-eval") + "," + filepath.Join(s, "visdoc") + "," + filepath.Join(s, "video"),
		"--images", filepath.Join(s, "images"), "--pages", filepath.Join(s, "visdoc-images"), "--frames", filepath.Join(s, "frames"),
		"--datasets", "VOC2007,MSCOCO_t2i,ViDoRe_arxivqa,HMDB51,MSR-VTT,MomentSeeker", "--limit", "3", "--quiet"}
	dir := t.TempDir()
	items := filepath.Join(dir, "items.jsonl")
	var stdout, stderr bytes.Buffer
	if err := run(append(common, "--export-items", items), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	rows, err := embedio.ReadFile(items)
	if err != nil {
		t.Fatalf("exported items do not parse as embed inputs: %v", err)
	}
	enc, err := encoder.Open(context.Background(), model, encoder.WithBatchSize(8))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	results, err := embedio.EmbedGroup(context.Background(), enc, rows)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, r := range results {
		if r.Error != "" {
			t.Fatalf("item %s: %s", r.ID, r.Error)
		}
		line, _ := json.Marshal(r)
		out.Write(append(line, '\n'))
	}
	embeddings := filepath.Join(dir, "embeddings.jsonl")
	if err := os.WriteFile(embeddings, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	imported := filepath.Join(dir, "imported")
	stderr.Reset()
	if err := run(append(common, "--import-embeddings", embeddings, "--model-id", "tiny-elsewhere", "--out", imported), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("imported %d embeddings (0 lines with errors, 0 of other items, 0 items not in the file)", len(rows))) {
		t.Errorf("import report: %s", stderr.String())
	}
	local := filepath.Join(dir, "local")
	if err := run(append(common, "--model", model, "--backend", "go", "--batch", "8", "--out", local), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, name := range []string{"VOC2007", "MSCOCO_t2i", "ViDoRe_arxivqa", "HMDB51", "MSR-VTT", "MomentSeeker"} {
		a, errA := os.ReadFile(filepath.Join(imported, name+"_score.json"))
		b, errB := os.ReadFile(filepath.Join(local, name+"_score.json"))
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v %v", name, errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: scores from imported embeddings differ from the in-process run:\n%s\n%s", name, a, b)
		}
	}
	// Without the file's vectors and without a model, a missing item is an error.
	if err := run(append(common, "--datasets", "OK-VQA", "--import-embeddings", embeddings, "--model-id", "tiny-elsewhere", "--out", imported), &stdout, &stderr); err == nil ||
		!strings.Contains(err.Error(), "not in the imported embeddings") {
		t.Errorf("items missing from the imported embeddings: %v", err)
	}
}
