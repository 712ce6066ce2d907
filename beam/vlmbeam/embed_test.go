package vlmbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/org/vlm2vec/embedio"
	"github.com/org/vlm2vec/encoder"
)

func TestMain(m *testing.M) { ptest.MainWithDefault(m, "prism") }

var (
	tiny     = filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-b")
	imageDir = filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "images")
	spec     = Spec{Checkpoint: tiny, BatchSize: 8, MaxTokens: 256, FailLong: true}
	// Few image sizes and text lengths up to ~60 tokens: the encoder
	// compiles at most 32 batch shapes (its fixed cache; a corpus with more
	// distinct shapes fails, see docs/scale-out.md).
	okImages  = []string{"photo_120x90.png", "tiny_10x7.png", "wide_300x40.png"}
	wordsPool = strings.Fields("a cat sat on the mat while two dogs played in the snow near a red bus and an old bridge at night")
)

// corpus writes n mixed inputs to dir/in.jsonl: texts of 1 to ~150 words
// (some with instructions, some full prompts), images, and bad inputs (a
// missing image, an undecodable one, an empty input, a text over
// MaxTokens under FailLong, an id given twice). It returns the lines' rows
// and the ids that must fail.
func corpus(t testing.TB, dir string, n int) (string, []embedio.Row, map[string]bool) {
	t.Helper()
	junk := filepath.Join(dir, "junk.png")
	if err := os.WriteFile(junk, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	var rows []embedio.Row
	bad := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("item-%05d", i)
		r := embedio.Row{ID: id}
		switch {
		case i%97 == 3:
			r.Image, bad[id] = "missing.png", true
		case i%97 == 5:
			r.Instruction, r.Image, bad[id] = "Represent the given image.", "junk.png", true
		case i%97 == 7:
			bad[id] = true // empty
		case i%97 == 11:
			r.Text, bad[id] = strings.Repeat("far too long ", 200), true
		case i%97 == 13:
			r.ID, bad[fmt.Sprintf("item-%05d", i-1)] = fmt.Sprintf("item-%05d", i-1), true // a repeated id
		case i%8 == 0:
			r.Instruction = "Represent the given image."
			r.Image, _ = filepath.Abs(filepath.Join(imageDir, okImages[(i/8)%len(okImages)]))
			if i%16 == 0 {
				r.Text = "what is in it?"
			}
		default:
			k := 1 + (i*37)%45
			var w []string
			for j := range k {
				w = append(w, wordsPool[(i+j*7)%len(wordsPool)])
			}
			r.Text = strings.Join(w, " ")
			if i%3 == 0 {
				r.Instruction = "Find an image that matches the caption."
			}
			if i%29 == 0 {
				r.Text, r.Prompt = "", "<|im_start|>"+strings.Join(w, " ")
			}
		}
		rows = append(rows, r)
	}
	var b strings.Builder
	for _, r := range rows {
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i] = rows[i].Resolve(dir)
	}
	return in, rows, bad
}

// reference embeds rows in this process straight through
// Encoder.EmbedEach, in the batch groups embedio defines (members sorted by
// id); repeated ids are left out. It also checks a sample against Embed of
// the input alone (the groups change only the last bits).
func reference(t testing.TB, rows []embedio.Row) map[string]embedio.Result {
	t.Helper()
	enc, err := spec.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	count := map[string]int{}
	for _, r := range rows {
		count[r.ID]++
	}
	g := embedio.Groups(len(rows), spec.batch())
	groups := make([][]embedio.Row, g)
	for _, r := range rows {
		if count[r.ID] == 1 {
			k := embedio.Group(r.ID, g)
			groups[k] = append(groups[k], r)
		}
	}
	out := map[string]embedio.Result{}
	for _, grp := range groups {
		slices.SortFunc(grp, func(a, b embedio.Row) int { return strings.Compare(a.ID, b.ID) })
		in := make([]encoder.Input, len(grp))
		for i, r := range grp {
			in[i] = encoder.Input{Instruction: r.Instruction, Text: r.Text, Prompt: r.Prompt, ImagePath: r.Image}
		}
		res, err := enc.EmbedEach(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			o := embedio.Result{ID: grp[i].ID, Embedding: r.Embedding}
			if r.Err != nil {
				o.Error = r.Err.Error()
			}
			out[o.ID] = o
			if r.Err == nil && len(out)%25 == 0 {
				alone, err := enc.Embed(context.Background(), in[i:i+1])
				if err != nil || !near(alone[0], r.Embedding) {
					t.Fatalf("%s: grouped vector far from Embed's alone (%v)", o.ID, err)
				}
			}
		}
	}
	t.Logf("reference: %d compiled shapes", enc.CompiledShapes())
	return out
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}

// pipeline reads in, embeds, and writes embeddings and failures to
// out/vectors-*-of-00004.jsonl and out/failures-*-of-00001.jsonl.
func pipeline(in, base, out string) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	rows, bad := ReadJSONL(s, in, base)
	embs, fails := Embed(s, spec, rows)
	WriteJSONL(s, filepath.Join(out, "vectors.jsonl"), 4, embs)
	WriteJSONL(s, filepath.Join(out, "failures.jsonl"), 1, beam.Flatten(s, fails, bad))
	return p
}

// readShards reads the result files out/<name>-*-of-<n>; it fails the test
// on a missing shard.
func readShards(t testing.TB, out, name string, n int) []embedio.Result {
	t.Helper()
	var all []embedio.Result
	for i := range n {
		data, err := os.ReadFile(embedio.ShardPath(filepath.Join(out, name), i, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if line == "" {
				continue
			}
			var r embedio.Result
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			all = append(all, r)
		}
	}
	return all
}

// check compares a pipeline's output with the reference: every embedding
// bit for bit, no id lost or twice, bad inputs in failures only.
func check(t testing.TB, out string, want map[string]embedio.Result, bad map[string]bool) {
	t.Helper()
	embs, fails := readShards(t, out, "vectors.jsonl", 4), readShards(t, out, "failures.jsonl", 1)
	seen := map[string]bool{}
	for _, r := range embs {
		if seen[r.ID] {
			t.Fatalf("%q embedded twice", r.ID)
		}
		seen[r.ID] = true
		w, ok := want[r.ID]
		if !ok || w.Error != "" || bad[r.ID] {
			t.Fatalf("%q embedded; the reference says %+v, bad %v", r.ID, w.Error, bad[r.ID])
		}
		if len(r.Embedding) != len(w.Embedding) {
			t.Fatalf("%q: %d dims, want %d", r.ID, len(r.Embedding), len(w.Embedding))
		}
		for k := range w.Embedding {
			if math.Float32bits(r.Embedding[k]) != math.Float32bits(w.Embedding[k]) {
				t.Fatalf("%q component %d: %v, want %v (bit for bit)", r.ID, k, r.Embedding[k], w.Embedding[k])
			}
		}
	}
	failed := map[string]int{}
	for _, r := range fails {
		if r.Error == "" || seen[r.ID] {
			t.Fatalf("failure %+v (also embedded: %v)", r, seen[r.ID])
		}
		failed[r.ID]++
	}
	for id, w := range want {
		if w.Error == "" && !seen[id] {
			t.Fatalf("%q lost", id)
		}
		if w.Error != "" && failed[id] != 1 {
			t.Fatalf("%q: the reference fails it (%s), the pipeline's failures hold it %d times", id, w.Error, failed[id])
		}
	}
	for id := range bad {
		if failed[id] == 0 {
			t.Errorf("bad input %q not in failures", id)
		}
	}
	if len(seen)+len(failed) != len(want)+countDup(bad, want) {
		t.Errorf("%d embedded + %d failed ids, want %d", len(seen), len(failed), len(want)+countDup(bad, want))
	}
}

// countDup is the number of repeated ids (in bad, absent from the
// reference).
func countDup(bad map[string]bool, want map[string]embedio.Result) int {
	n := 0
	for id := range bad {
		if _, ok := want[id]; !ok {
			n++
		}
	}
	return n
}

// TestEmbedOnPrismMatchesEmbed: 2,100 mixed inputs through ReadJSONL,
// Embed and WriteJSONL on the in-process Prism runner give the reference's
// vectors bit for bit, each id once, bad inputs only in failures; the
// encoder is opened once for the whole run.
func TestEmbedOnPrismMatchesEmbed(t *testing.T) {
	dir := t.TempDir()
	in, rows, bad := corpus(t, dir, 2100)
	start := time.Now()
	want := reference(t, rows)
	t.Logf("reference: %d inputs in %v", len(rows), time.Since(start))
	out := filepath.Join(dir, "out")
	opens.Store(0)
	start = time.Now()
	if _, err := prism.Execute(context.Background(), pipeline(in, dir, out)); err != nil {
		t.Fatal(err)
	}
	t.Logf("pipeline on Prism: %v, encoder opened %d times", time.Since(start), opens.Load())
	// Once, or not at all when an earlier pipeline in this process (go test
	// -count=N) left the worker's encoder open: Prism's loopback worker
	// keeps its DoFn instances between jobs.
	if n := opens.Load(); n > 1 {
		t.Errorf("encoder opened %d times in one worker, want at most 1", n)
	}
	check(t, out, want, bad)
}

// faultRun runs the pipeline with hook installed, expects the run to fail
// with an error containing wantErr and to leave no output shard, then runs
// it again without faults and checks its output against the reference.
func faultRun(t *testing.T, hook func(group int, h *handle) error, wantErr string) {
	dir := t.TempDir()
	in, rows, bad := corpus(t, dir, 300)
	want := reference(t, rows)
	out := filepath.Join(dir, "out")
	beforeGroup = hook
	_, err := prism.Execute(context.Background(), pipeline(in, dir, out))
	beforeGroup = nil
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("faulty run: error %v, want one saying %q", err, wantErr)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "vectors-*")); len(left) != 0 {
		t.Errorf("a failed run left output: %v", left)
	}
	if _, err := prism.Execute(context.Background(), pipeline(in, dir, out)); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	check(t, out, want, bad)
}

// onceFor makes a hook that fires f on the first attempt of groups where
// pick is true, and lets every later attempt through.
func onceFor(pick func(group int) bool, f func(group int, h *handle) error) func(int, *handle) error {
	var mu sync.Mutex
	tried := map[int]bool{}
	return func(g int, h *handle) error {
		mu.Lock()
		first := !tried[g]
		tried[g] = true
		mu.Unlock()
		if first && pick(g) {
			return f(g, h)
		}
		return nil
	}
}

// Prism (v2.77.0) does not retry a failed bundle: its executor calls
// ElementManager.FailBundle, which drops the bundle's elements, and the
// errgroup's error fails the job (runners/prism/internal/execute.go). So on
// Prism the retry is the job's: the faulty run fails with the DoFn's
// error and leaves no output, and rerunning the job gives the complete,
// identical output. (Dataflow, Flink and Spark retry the bundle or task
// instead; the DoFn is written for that: no state survives a failed group
// but a fresh encoder.)

// TestFailedBundleFailsTheJobAndTheRerunIsComplete: groups whose first
// attempt fails with an encoder error.
func TestFailedBundleFailsTheJobAndTheRerunIsComplete(t *testing.T) {
	faultRun(t, onceFor(func(g int) bool { return g%3 == 1 }, func(g int, _ *handle) error {
		return errors.New("injected encoder failure")
	}), "injected encoder failure")
}

// TestEncoderClosedMidBundle: the worker's encoder is closed between two
// groups of a bundle; the next group reports it (not as element failures)
// and the rerun reopens the encoder.
func TestEncoderClosedMidBundle(t *testing.T) {
	faultRun(t, onceFor(func(g int) bool { return g == 2 }, func(g int, h *handle) error {
		h.discard()
		return nil
	}), errEncoderClosed.Error())
}

// TestPanicFailsTheBundle: a panic while embedding is an error of the
// bundle, with its stack, not a crash of the worker.
func TestPanicFailsTheBundle(t *testing.T) {
	faultRun(t, onceFor(func(g int) bool { return g == 1 }, func(int, *handle) error {
		panic("injected panic")
	}), "panic: injected panic")
}

// TestSpecValidate: bad specs are reported before a pipeline is built, and
// by the workers' Setup when launched anyway.
func TestSpecValidate(t *testing.T) {
	for _, s := range []Spec{{}, {Checkpoint: "x", DType: "int8"}, {Checkpoint: "x", BatchSize: -1}} {
		if s.Validate() == nil {
			t.Errorf("%+v validated", s)
		}
	}
	if err := (Spec{Checkpoint: tiny, DType: "bfloat16"}).Validate(); err != nil {
		t.Error(err)
	}
	p, s := beam.NewPipelineWithRoot()
	rows := beam.CreateList(s, []embedio.Row{{ID: "a", Text: "x"}})
	e, _ := Embed(s, Spec{Checkpoint: filepath.Join(t.TempDir(), "nothing")}, rows)
	_ = e
	if _, err := prism.Execute(context.Background(), p); err == nil || !strings.Contains(err.Error(), "vlmbeam: opening") {
		t.Errorf("a missing checkpoint: %v", err)
	}
}
