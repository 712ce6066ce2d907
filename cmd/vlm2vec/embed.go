package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/org/vlm2vec/embedio"
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/internal/atomicfile"
	"github.com/schollz/progressbar/v3"
)

func runEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	input := fs.String("input", "", "a JSONL file of inputs, or a folder of images (required)")
	output := fs.String("output", "", "the JSONL file to write (required; resumed if it exists)")
	npy := fs.String("npy", "", "also write the embeddings as a float32 .npy matrix here (rows in input order; failed inputs are zero rows)")
	imageInst := fs.String("image-instruction", "Represent the given image.", "instruction for a folder's images")
	quiet := fs.Bool("quiet", false, "no progress bar")
	shardArg := fs.String("shard", "", `"i/N": embed only shard i (0-based) of N, into --output's shard file (out-0000i-of-0000N.jsonl); resumable like a whole run`)
	merge := fs.Int("merge", 0, "merge the N finished shard files of --output into --output, checking that every input is in exactly one (no model needed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *input == "" || *output == "" {
		fs.Usage()
		return fmt.Errorf("--input and --output are required")
	}
	rows, err := readInputs(*input, *imageInst)
	if err != nil {
		return err
	}
	if *merge != 0 {
		if *shardArg != "" || *merge < 0 {
			return fmt.Errorf("--merge N takes a positive shard count and no --shard")
		}
		return mergeShards(rows, *output, *merge, mf.batch, *npy, stderr)
	}
	shard, shards, out := 0, 1, *output
	if *shardArg != "" {
		if shard, shards, err = parseShard(*shardArg); err != nil {
			return err
		}
		if *npy != "" {
			return fmt.Errorf("--npy needs every shard: pass it to the --merge run")
		}
		out = embedio.ShardPath(*output, shard, shards)
	}
	// Batch groups come from the whole corpus, so every shard (and a
	// single run) embeds an input with the same companions: same bits.
	groups := embedio.Groups(len(rows), mf.batch)
	byGroup := map[int][]embedio.Row{}
	mine := map[string]bool{}
	for _, r := range rows {
		g := embedio.Group(r.ID, groups)
		if g%shards == shard {
			byGroup[g] = append(byGroup[g], r)
			mine[r.ID] = true
		}
	}
	done, err := resume(out)
	if err != nil {
		return err
	}
	for id := range done {
		if *shardArg != "" && !mine[id] {
			return fmt.Errorf("%s holds id %q, which is not an input of this run (shard %d/%d of %s): was it written with another --batch or input list?", out, id, shard, shards, *input)
		}
	}
	// A group partly in the output (a kill tore its write) is embedded
	// whole again, so its missing inputs get the companions they had.
	var todo [][]embedio.Row
	nTodo := 0
	for _, g := range slices.Sorted(maps.Keys(byGroup)) {
		left := 0
		for _, r := range byGroup[g] {
			if _, ok := done[r.ID]; !ok {
				left++
			}
		}
		if left > 0 {
			todo, nTodo = append(todo, byGroup[g]), nTodo+left
		}
	}
	what := fmt.Sprint(len(rows), " inputs")
	if *shardArg != "" {
		what = fmt.Sprintf("%d inputs, %d in shard %d/%d", len(rows), len(mine), shard, shards)
	}
	fmt.Fprintf(stderr, "%s, %d already in %s, %d to embed\n", what, len(done), out, nTodo)
	if nTodo > 0 {
		enc, err := mf.open(ctx)
		if err != nil {
			return err
		}
		defer enc.Close()
		if err := embedInto(ctx, enc, todo, nTodo, done, out, *quiet, stderr); err != nil {
			return err
		}
	} else if err := touch(out); err != nil { // an empty shard is a finished one
		return err
	}
	if *npy != "" {
		if done, err = resume(out); err != nil {
			return err
		}
		if err := writeNPY(*npy, rows, done); err != nil {
			return err
		}
	}
	return nil
}

// readInputs reads a JSONL file (embedio.ReadFile) or lists a folder's
// images (ids are the file names).
func readInputs(path, imageInst string) ([]embedio.Row, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return embedio.ReadFile(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var rows []embedio.Row
	for _, e := range entries {
		if !e.IsDir() && isImage(e.Name()) {
			rows = append(rows, embedio.Row{ID: e.Name(), Instruction: imageInst, Image: filepath.Join(path, e.Name())})
		}
	}
	return rows, nil
}

// resume reads the output written so far: every whole line's row by id. A
// torn last line (the previous run was killed mid-write) is cut off.
func resume(path string) (map[string]embedio.Result, error) {
	done := map[string]embedio.Result{}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return done, nil
	}
	if err != nil {
		return nil, err
	}
	res, good := parseResults(data)
	for _, r := range res {
		done[r.ID] = r
	}
	if good < len(data) {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// parseResults decodes whole output lines up to the first torn or
// undecodable one, and returns them with the length of that good prefix.
func parseResults(data []byte) ([]embedio.Result, int) {
	var out []embedio.Result
	good := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			break // torn: no newline
		}
		var r embedio.Result
		if json.Unmarshal(data[off:off+end], &r) != nil {
			break
		}
		out = append(out, r)
		off += end + 1
		good = off
	}
	return out, good
}

// afterGroupWrite, when set (by tests), runs after each group's lines are
// written: the kill-and-resume test slows a child run down with it.
var afterGroupWrite func()

// embedInto embeds whole batch groups (embedio.EmbedGroup) and appends the
// lines of their inputs not yet done, one write per group, with a progress
// bar over the n inputs to write.
func embedInto(ctx context.Context, enc *encoder.Encoder, groups [][]embedio.Row, n int, done map[string]embedio.Result, path string, quiet bool, stderr io.Writer) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var bar *progressbar.ProgressBar
	if !quiet {
		bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("embed"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("inputs"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	}
	for _, g := range groups {
		res, err := embedio.EmbedGroup(ctx, enc, g)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		wrote := 0
		for _, r := range res {
			if _, ok := done[r.ID]; ok {
				continue
			}
			line, err := json.Marshal(r)
			if err != nil {
				return err
			}
			buf.Write(append(line, '\n'))
			wrote++
		}
		// One write per group: a kill leaves whole lines or a torn last
		// one, which resume cuts off.
		if _, err := f.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if bar != nil {
			_ = bar.Add(wrote)
		}
		if afterGroupWrite != nil {
			afterGroupWrite()
		}
	}
	return f.Sync()
}

// writeNPY writes the embeddings in input order as a float32 matrix
// (NumPy's .npy, version 1.0), atomically.
func writeNPY(path string, rows []embedio.Row, done map[string]embedio.Result) error {
	dim := 0
	for _, r := range done {
		dim = max(dim, len(r.Embedding))
	}
	if dim == 0 {
		return fmt.Errorf("no embeddings to write to %s", path)
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", len(rows), dim)
	pad := 64 - (10+len(header)+1)%64
	header += string(bytes.Repeat([]byte(" "), pad)) + "\n"
	return atomicfile.Write(path, 0o644, func(f *os.File) error {
		w := bufio.NewWriter(f)
		w.Write([]byte("\x93NUMPY\x01\x00"))
		binary.Write(w, binary.LittleEndian, uint16(len(header)))
		w.WriteString(header)
		row := make([]byte, 4*dim)
		for _, r := range rows {
			clear(row)
			for k, v := range done[r.ID].Embedding {
				binary.LittleEndian.PutUint32(row[4*k:], math.Float32bits(v))
			}
			w.Write(row)
		}
		return w.Flush()
	})
}
