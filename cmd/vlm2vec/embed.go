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
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/internal/atomicfile"
	"github.com/schollz/progressbar/v3"
)

// inputRow is one line of the input JSONL.
type inputRow struct {
	ID          string `json:"id"`
	Instruction string `json:"instruction"`
	Text        string `json:"text"`
	Image       string `json:"image"`
	Prompt      string `json:"prompt"`
}

// outputRow is one line of the output JSONL.
type outputRow struct {
	ID        string    `json:"id"`
	Embedding []float32 `json:"embedding,omitempty"`
	Error     string    `json:"error,omitempty"`
}

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
	done, err := resume(*output)
	if err != nil {
		return err
	}
	var todo []inputRow
	for _, r := range rows {
		if _, ok := done[r.ID]; !ok {
			todo = append(todo, r)
		}
	}
	fmt.Fprintf(stderr, "%d inputs, %d already in %s, %d to embed\n", len(rows), len(rows)-len(todo), *output, len(todo))
	if len(todo) > 0 {
		enc, err := mf.open(ctx)
		if err != nil {
			return err
		}
		defer enc.Close()
		if err := embedInto(ctx, enc, todo, *output, mf.batch, *quiet, stderr); err != nil {
			return err
		}
	}
	if *npy != "" {
		if done, err = resume(*output); err != nil {
			return err
		}
		if err := writeNPY(*npy, rows, done); err != nil {
			return err
		}
	}
	return nil
}

// readInputs reads a JSONL file or lists a folder's images (ids are the
// file names).
func readInputs(path, imageInst string) ([]inputRow, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var rows []inputRow
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && isImage(e.Name()) {
				rows = append(rows, inputRow{ID: e.Name(), Instruction: imageInst, Image: filepath.Join(path, e.Name())})
			}
		}
		return rows, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	seen := map[string]bool{}
	base := filepath.Dir(path)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r inputRow
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if r.ID == "" {
			r.ID = fmt.Sprint(n)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("%s line %d: id %q appears twice", path, n, r.ID)
		}
		seen[r.ID] = true
		if r.Image != "" && !filepath.IsAbs(r.Image) {
			r.Image = filepath.Join(base, r.Image) // relative to the JSONL file
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// resume reads the output written so far: every whole line's row by id. A
// torn last line (the previous run was killed mid-write) is cut off.
func resume(path string) (map[string]outputRow, error) {
	done := map[string]outputRow{}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return done, nil
	}
	if err != nil {
		return nil, err
	}
	good := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			break // torn: no newline
		}
		var r outputRow
		if json.Unmarshal(data[off:off+end], &r) != nil {
			break
		}
		done[r.ID] = r
		off += end + 1
		good = off
	}
	if good < len(data) {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// embedInto appends each input's line to the output, a batch at a time,
// with a progress bar.
func embedInto(ctx context.Context, enc *encoder.Encoder, rows []inputRow, path string, batch int, quiet bool, stderr io.Writer) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var bar *progressbar.ProgressBar
	if !quiet {
		bar = progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("embed"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("inputs"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	}
	step := 4 * max(batch, 1) // EmbedEach sorts by length within this window
	for start := 0; start < len(rows); start += step {
		part := rows[start:min(start+step, len(rows))]
		inputs := make([]encoder.Input, len(part))
		for i, r := range part {
			inputs[i] = encoder.Input{Instruction: r.Instruction, Text: r.Text, ImagePath: r.Image, Prompt: r.Prompt}
		}
		res, err := enc.EmbedEach(ctx, inputs)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		for i, r := range res {
			o := outputRow{ID: part[i].ID, Embedding: r.Embedding}
			if r.Err != nil {
				o.Error = r.Err.Error()
			}
			line, err := json.Marshal(o)
			if err != nil {
				return err
			}
			buf.Write(append(line, '\n'))
		}
		// One write per window: a kill leaves whole lines or a torn last
		// one, which resume cuts off.
		if _, err := f.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if bar != nil {
			_ = bar.Add(len(part))
		}
	}
	return f.Sync()
}

// writeNPY writes the embeddings in input order as a float32 matrix
// (NumPy's .npy, version 1.0), atomically.
func writeNPY(path string, rows []inputRow, done map[string]outputRow) error {
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
