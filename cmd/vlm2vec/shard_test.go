package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/vlm2vec/embedio"
	"github.com/org/vlm2vec/encoder"
)

// TestMain lets a test run the command in a child process (to kill it with
// SIGKILL): VLM2VEC_EMBED_CHILD holds its arguments, separated by \x1f.
func TestMain(m *testing.M) {
	if args := os.Getenv("VLM2VEC_EMBED_CHILD"); args != "" {
		if os.Getenv("VLM2VEC_EMBED_CHILD_SLOW") != "" {
			afterGroupWrite = func() { time.Sleep(150 * time.Millisecond) } // leave time to kill it mid-run
		}
		if err := run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// shardCorpus writes a corpus of n inputs: texts of many lengths, with and
// without instructions, images, and two bad inputs (a missing image, an
// undecodable one).
func shardCorpus(t testing.TB, dir string, n int) (string, []embedio.Row) {
	t.Helper()
	imgs := []string{"photo_120x90.png", "wide_300x40.png", "tall_40x260.png", "tiny_10x7.png"}
	junk := filepath.Join(dir, "junk.png")
	if err := os.WriteFile(junk, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range n {
		var l string
		switch {
		case i == 7:
			l = fmt.Sprintf(`{"id": "doc%03d", "image": "missing.png"}`, i)
		case i == 11:
			l = fmt.Sprintf(`{"id": "doc%03d", "instruction": "Represent the given image.", "image": "junk.png"}`, i)
		case i%5 == 0:
			p, _ := filepath.Abs(filepath.Join(imageDir, imgs[(i/5)%len(imgs)]))
			l = fmt.Sprintf(`{"id": "doc%03d", "instruction": "Represent the given image.", "image": %q}`, i, p)
		case i%2 == 0:
			l = fmt.Sprintf(`{"id": "doc%03d", "instruction": "Find an image that matches the caption.", "text": %q}`, i, strings.Repeat("red bus ", 1+i%23))
		default:
			l = fmt.Sprintf(`{"id": "doc%03d", "text": %q}`, i, strings.Repeat("a cat sat ", 1+(i*7)%41))
		}
		lines = append(lines, l)
	}
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := embedio.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	return in, rows
}

func runOK(t testing.TB, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("vlm2vec %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

func readOut(t testing.TB, path string) map[string]embedio.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, good := parseResults(data)
	if good != len(data) {
		t.Fatalf("%s: bad bytes after %d", path, good)
	}
	out := map[string]embedio.Result{}
	for _, r := range res {
		if _, ok := out[r.ID]; ok {
			t.Fatalf("%s: id %q twice", path, r.ID)
		}
		out[r.ID] = r
	}
	return out
}

// sameResults: the same ids, the same errors, embeddings equal bit for bit.
func sameResults(t *testing.T, what string, got, want map[string]embedio.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d", what, len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("%s: id %q missing", what, id)
		}
		if (g.Error == "") != (w.Error == "") || len(g.Embedding) != len(w.Embedding) {
			t.Fatalf("%s: %q: error %q / %q, %d / %d dims", what, id, g.Error, w.Error, len(g.Embedding), len(w.Embedding))
		}
		for k := range w.Embedding {
			if math.Float32bits(g.Embedding[k]) != math.Float32bits(w.Embedding[k]) {
				t.Fatalf("%s: %q component %d: %v, want %v", what, id, k, g.Embedding[k], w.Embedding[k])
			}
		}
	}
}

// reference embeds the corpus the way the batch groups define, in this
// process, straight through Encoder.EmbedEach (the groups' members sorted
// by id), and checks each vector against Embed of the input alone.
func reference(t *testing.T, rows []embedio.Row, batch int) map[string]embedio.Result {
	t.Helper()
	enc, err := encoder.Open(context.Background(), tiny, encoder.WithBatchSize(batch))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	g := embedio.Groups(len(rows), batch)
	byGroup := make([][]embedio.Row, g)
	for _, r := range rows {
		k := embedio.Group(r.ID, g)
		byGroup[k] = append(byGroup[k], r)
	}
	out := map[string]embedio.Result{}
	for _, grp := range byGroup {
		slices.SortFunc(grp, func(a, b embedio.Row) int { return strings.Compare(a.ID, b.ID) })
		inputs := make([]encoder.Input, len(grp))
		for i, r := range grp {
			inputs[i] = encoder.Input{Instruction: r.Instruction, Text: r.Text, ImagePath: r.Image}
		}
		res, err := enc.EmbedEach(context.Background(), inputs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			o := embedio.Result{ID: grp[i].ID, Embedding: r.Embedding}
			if r.Err != nil {
				o.Error = r.Err.Error()
			} else if alone, err := enc.Embed(context.Background(), inputs[i:i+1]); err != nil || !near(alone[0], r.Embedding) {
				t.Fatalf("%s: batched vector far from Embed's alone (%v)", grp[i].ID, err)
			}
			out[grp[i].ID] = o
		}
	}
	return out
}

// TestShardsMergeToTheSingleRun: a single run, and runs split into 1, 3
// and 7 shards then merged, give the same results bit for bit, equal to
// the in-process reference; bad inputs are error lines; the merged file is
// in input order and its .npy is the single run's, byte for byte.
func TestShardsMergeToTheSingleRun(t *testing.T) {
	dir := t.TempDir()
	in, rows := shardCorpus(t, dir, 120)
	const batch = "4" // 120 inputs in groups of ~16: 8 groups, so 7 shards all get work
	want := reference(t, rows, 4)
	if want["doc007"].Error == "" || want["doc011"].Error == "" {
		t.Fatalf("bad inputs embedded: %+v %+v", want["doc007"], want["doc011"])
	}
	single := filepath.Join(dir, "single.jsonl")
	runOK(t, "embed", "--model", tiny, "--batch", batch, "--quiet", "--input", in, "--output", single, "--npy", filepath.Join(dir, "single.npy"))
	sameResults(t, "single run", readOut(t, single), want)
	singleNPY, _ := os.ReadFile(filepath.Join(dir, "single.npy"))

	for _, n := range []int{1, 3, 7} {
		out := filepath.Join(dir, fmt.Sprintf("n%d.jsonl", n))
		for i := range n {
			msg := runOK(t, "embed", "--model", tiny, "--batch", batch, "--quiet", "--input", in, "--output", out, "--shard", fmt.Sprintf("%d/%d", i, n))
			if !strings.Contains(msg, fmt.Sprintf("in shard %d/%d", i, n)) {
				t.Errorf("shard message: %s", msg)
			}
			shard := readOut(t, embedio.ShardPath(out, i, n))
			if n > 1 && (len(shard) == 0 || len(shard) == len(rows)) {
				t.Errorf("shard %d/%d holds %d of %d inputs", i, n, len(shard), len(rows))
			}
		}
		npy := filepath.Join(dir, fmt.Sprintf("n%d.npy", n))
		runOK(t, "embed", "--input", in, "--output", out, "--merge", fmt.Sprint(n), "--batch", batch, "--npy", npy)
		sameResults(t, fmt.Sprintf("%d shards merged", n), readOut(t, out), want)
		data, _ := os.ReadFile(out)
		res, _ := parseResults(data)
		for i, r := range res {
			if r.ID != rows[i].ID {
				t.Fatalf("merged line %d is %q, want %q (input order)", i, r.ID, rows[i].ID)
			}
		}
		if got, _ := os.ReadFile(npy); !bytes.Equal(got, singleNPY) || len(got) == 0 {
			t.Errorf("%d shards: .npy differs from the single run's", n)
		}
	}
}

// TestShardKilledResumes: a shard's run killed with SIGKILL after some
// groups, and then torn inside a group as a kill during a write tears it,
// resumes to the same lines an uninterrupted run writes: none lost, none
// twice, the same bits.
func TestShardKilledResumes(t *testing.T) {
	dir := t.TempDir()
	in, rows := shardCorpus(t, dir, 60)
	want := reference(t, rows, 2)
	out := filepath.Join(dir, "out.jsonl")
	const n = 2
	args := []string{"embed", "--model", tiny, "--batch", "2", "--quiet", "--input", in, "--output", out, "--shard", "0/2"}
	shardFile := embedio.ShardPath(out, 0, n)
	total := 0
	g := embedio.Groups(len(rows), 2)
	for _, r := range rows {
		if embedio.Shard(r.ID, g, n) == 0 {
			total++
		}
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "VLM2VEC_EMBED_CHILD="+strings.Join(args, "\x1f"), "VLM2VEC_EMBED_CHILD_SLOW=1")
	var childErr bytes.Buffer
	cmd.Stderr = &childErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, _ := os.ReadFile(shardFile)
		if bytes.Count(data, []byte("\n")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the child wrote nothing in 60 s: %s", childErr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the child finished before the kill: slow it down more")
	}
	data, _ := os.ReadFile(shardFile)
	lines := bytes.Count(data, []byte("\n"))
	if lines == 0 || lines >= total {
		t.Fatalf("killed run wrote %d of %d lines: not mid-run", lines, total)
	}
	// Tear the last group's write: keep half its bytes, mid-line.
	last := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	if err := os.WriteFile(shardFile, data[:last+(len(data)-last)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	msg := runOK(t, args...)
	if !strings.Contains(msg, fmt.Sprintf("%d already in", lines-1)) {
		t.Errorf("resume message: %s (want %d already in)", msg, lines-1)
	}
	got := readOut(t, shardFile) // fails on an id twice
	if len(got) != total {
		t.Fatalf("%d lines after resuming, want %d", len(got), total)
	}
	for id, r := range got {
		sameResults(t, "resumed shard", map[string]embedio.Result{id: r}, map[string]embedio.Result{id: want[id]})
	}
}

// TestMergeReportsBadShards: a missing shard, a doubled one, an unfinished
// one, a torn one and a shard of another corpus are errors that say so;
// --shard's syntax is checked; a resumed shard refuses another shard's
// lines.
func TestMergeReportsBadShards(t *testing.T) {
	dir := t.TempDir()
	in, rows := shardCorpus(t, dir, 30)
	out := filepath.Join(dir, "out.jsonl")
	base := []string{"embed", "--model", tiny, "--batch", "2", "--quiet", "--input", in, "--output", out}
	for i := range 3 {
		runOK(t, append(base, "--shard", fmt.Sprintf("%d/3", i))...)
	}
	shard := func(i int) string { return embedio.ShardPath(out, i, 3) }
	orig := make([][]byte, 3)
	for i := range orig {
		orig[i], _ = os.ReadFile(shard(i))
	}
	restore := func() {
		for i := range orig {
			if err := os.WriteFile(shard(i), orig[i], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	merge := func() error {
		var stdout, stderr bytes.Buffer
		return run(context.Background(), []string{"embed", "--input", in, "--output", out, "--merge", "3", "--batch", "2"}, &stdout, &stderr)
	}
	if err := merge(); err != nil {
		t.Fatalf("clean merge: %v", err)
	}
	merged, _ := os.ReadFile(out)
	expectErr := func(what string, wants ...string) {
		t.Helper()
		err := merge()
		if err == nil {
			t.Fatalf("%s: merged without error", what)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", what, err, w)
			}
		}
		if now, _ := os.ReadFile(out); !bytes.Equal(now, merged) {
			t.Errorf("%s: a failed merge changed %s", what, out)
		}
		restore()
	}

	os.Remove(shard(1))
	expectErr("missing shard", "1 of 3 shards missing", filepath.Base(shard(1)))

	os.WriteFile(shard(2), append(append([]byte{}, orig[2]...), orig[0]...), 0o644)
	expectErr("doubled shard", "is in both", filepath.Base(shard(0)), filepath.Base(shard(2)))

	first := bytes.IndexByte(orig[1], '\n') + 1
	os.WriteFile(shard(1), append(append([]byte{}, orig[1]...), orig[1][:first]...), 0o644)
	expectErr("line twice", "appears twice in")

	os.WriteFile(shard(1), orig[1][first:], 0o644)
	expectErr("unfinished shard", "1 inputs are in no shard", "(shard 1)")

	os.WriteFile(shard(0), orig[0][:len(orig[0])-5], 0o644)
	expectErr("torn shard", "torn", filepath.Base(shard(0)))

	os.WriteFile(shard(0), append(append([]byte{}, orig[0]...), []byte(`{"id": "stranger", "embedding": [1]}`+"\n")...), 0o644)
	expectErr("foreign id", `"stranger"`, "not an input")

	// A shard's output holding another shard's lines is refused on resume.
	os.WriteFile(shard(0), append(append([]byte{}, orig[0]...), orig[1][:first]...), 0o644)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append(base, "--shard", "0/3"), &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "another --batch or input list") {
		t.Errorf("resume with another shard's line: %v", err)
	}
	restore()
	for _, bad := range []string{"3/3", "1", "a/2", "-1/2", "0/0"} {
		if err := run(context.Background(), append(base, "--shard", bad), &stdout, &stderr); err == nil {
			t.Errorf("--shard %s accepted", bad)
		}
	}
	if err := run(context.Background(), append(base, "--shard", "0/3", "--npy", filepath.Join(dir, "x.npy")), &stdout, &stderr); err == nil {
		t.Error("--npy accepted on a shard run")
	}
	if len(rows) != 30 {
		t.Fatal(len(rows))
	}
}
