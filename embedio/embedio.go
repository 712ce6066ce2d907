// Package embedio is what every path that embeds a corpus shares: the
// JSONL rows of inputs and outputs (the format of `vlm2vec embed`, of its
// shards and of the Beam transform in the nested beam module), their strict
// parsing, and the batch groups that make an input's embedding the same
// bits whichever path, shard, bundle, retry or resume embeds it.
//
// Why batch groups: on a given backend an embedding is a deterministic
// function of the batch it is computed in (the batch's padded shape picks
// the matrix kernels and their summation order), not of the input alone. A
// float32 result can differ in its last bits between a batch of 8 long
// texts and a batch of 1. So that a sharded run, a resumed run and a Beam
// pipeline give exactly what a single run gives, every path embeds an
// input together with the same companions: the inputs of its batch group
// (Group), sorted by id, in one Encoder.EmbedEach call (EmbedGroup).
package embedio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/org/vlm2vec/encoder"
)

// Row is one input: a line of an input JSONL file.
type Row struct {
	// ID names the input in the output; it must be unique in a corpus.
	ID string `json:"id"`
	// Instruction, Text and Prompt are encoder.Input's fields.
	Instruction string `json:"instruction,omitempty"`
	Text        string `json:"text,omitempty"`
	Prompt      string `json:"prompt,omitempty"`
	// Image is an image file; a relative path is taken relative to the
	// JSONL file (Resolve).
	Image string `json:"image,omitempty"`
	// Video is a video as its frame files, in order (the encoder samples
	// them); relative paths as for Image.
	Video []string `json:"video,omitempty"`
}

// Result is one output: a line of an output JSONL file, either the input's
// embedding or why it has none.
type Result struct {
	ID        string    `json:"id"`
	Embedding []float32 `json:"embedding,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// ParseRow decodes one JSONL line strictly: unknown fields are errors (a
// misspelt "imgae" must not silently embed a text alone). It does not
// default a missing id; ReadFile does.
func ParseRow(line []byte) (Row, error) {
	var r Row
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Row{}, err
	}
	if dec.More() {
		return Row{}, fmt.Errorf("more than one JSON value on the line")
	}
	return r, nil
}

// Resolve returns r with its relative image and frame paths joined to
// base (the directory of the JSONL file). Absolute paths and URIs
// ("gs://...", anything with "://") are kept.
func (r Row) Resolve(base string) Row {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
			return p
		}
		return filepath.Join(base, p)
	}
	r.Image = abs(r.Image)
	if len(r.Video) > 0 {
		v := make([]string, len(r.Video))
		for i, p := range r.Video {
			v[i] = abs(p)
		}
		r.Video = v
	}
	return r
}

// Input is the encoder input the row describes (paths are decoded by the
// encoder).
func (r Row) Input() encoder.Input {
	return encoder.Input{Instruction: r.Instruction, Text: r.Text, Prompt: r.Prompt, ImagePath: r.Image, VideoPaths: r.Video}
}

// ReadFile reads an input JSONL file: one Row per non-blank line, relative
// paths resolved against the file's directory. A missing id defaults to
// the line number; a repeated id is an error.
func ReadFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	seen := map[string]bool{}
	base := filepath.Dir(path)
	var rows []Row
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		r, err := ParseRow(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if r.ID == "" {
			r.ID = fmt.Sprint(n)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("%s line %d: id %q appears twice", path, n, r.ID)
		}
		seen[r.ID] = true
		rows = append(rows, r.Resolve(base))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// Hash is the stable hash every path assigns inputs with: FNV-1a, 64 bits,
// of the id's UTF-8 bytes. It never changes between versions, so shards
// and groups stay where they were.
func Hash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// GroupSize is the number of inputs a batch group holds on average: the
// encoder's sorting window (four batches), so a group is one EmbedEach
// window, sorted by length inside.
func GroupSize(batch int) int { return 4 * max(batch, 1) }

// Groups is the number of batch groups of a corpus of n inputs embedded
// batch inputs per forward pass: n / GroupSize(batch), rounded up, at
// least 1. Every path computes it from the whole corpus, so a shard sees
// the same groups as a single run.
func Groups(n, batch int) int {
	gs := GroupSize(batch)
	return max(1, (n+gs-1)/gs)
}

// Group is the batch group of an input: Hash(id) mod groups.
func Group(id string, groups int) int {
	return int(Hash(id) % uint64(max(groups, 1)))
}

// Shard is the shard (0..shards-1) an input belongs to: its group mod
// shards. Whole groups go to one shard, so a sharded run embeds every
// input with the companions a single run gives it.
func Shard(id string, groups, shards int) int {
	return Group(id, groups) % max(shards, 1)
}

// ShardPath names shard i of n of an output file: "vectors.jsonl" becomes
// "vectors-00002-of-00007.jsonl" (the extension stays last, so tools that
// look at it still work).
func ShardPath(output string, i, n int) string {
	ext := filepath.Ext(output)
	return fmt.Sprintf("%s-%05d-of-%05d%s", strings.TrimSuffix(output, ext), i, n, ext)
}

// EmbedGroup embeds the rows of one batch group in a single
// Encoder.EmbedEach call, in id order (the order a Beam runner delivers a
// group's elements in is arbitrary; ids give one every path can use).
// Results come back in rows' order. A row the encoder cannot embed gets a
// Result with its Error; the returned error is a failure of the call as a
// whole (a done context, a failed forward pass). Ids must be unique.
func EmbedGroup(ctx context.Context, enc *encoder.Encoder, rows []Row) ([]Result, error) {
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(rows[a].ID, rows[b].ID) })
	inputs := make([]encoder.Input, len(rows))
	for k, i := range order {
		if k > 0 && rows[i].ID == rows[order[k-1]].ID {
			return nil, fmt.Errorf("embedio: id %q appears twice in a group", rows[i].ID)
		}
		inputs[k] = rows[i].Input()
	}
	res, err := enc.EmbedEach(ctx, inputs)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(rows))
	for k, i := range order {
		out[i] = Result{ID: rows[i].ID, Embedding: res[k].Embedding}
		if res[k].Err != nil {
			out[i].Error = res[k].Err.Error()
		}
	}
	return out, nil
}
