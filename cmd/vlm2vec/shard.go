package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/org/vlm2vec/embedio"
	"github.com/org/vlm2vec/internal/atomicfile"
)

// parseShard reads --shard's "i/N" (0 <= i < N).
func parseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want i/N with 0 <= i < N, e.g. 0/4", s)
	}
	return i, n, nil
}

// touch creates path empty if it does not exist.
func touch(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// mergeShards checks the n shard files of output against the inputs (all
// present and finished, every input in exactly one, nothing else) and
// writes output, in input order, atomically; npy too when named. batch is
// only used to say which shard holds a missing input.
func mergeShards(rows []embedio.Row, output string, n, batch int, npy string, stderr io.Writer) error {
	isInput := make(map[string]bool, len(rows))
	for _, r := range rows {
		isInput[r.ID] = true
	}
	results := make(map[string]embedio.Result, len(rows))
	from := make(map[string]string, len(rows))
	var absent []string
	for i := range n {
		p := embedio.ShardPath(output, i, n)
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			absent = append(absent, p)
			continue
		}
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		res, good := parseResults(data)
		if good < len(data) {
			return fmt.Errorf("merge: %s ends in a torn or bad line (byte %d): its run did not finish; rerun it (it resumes)", p, good)
		}
		for _, r := range res {
			if prev, ok := from[r.ID]; ok {
				if prev == p {
					return fmt.Errorf("merge: id %q appears twice in %s", r.ID, p)
				}
				return fmt.Errorf("merge: id %q is in both %s and %s: a shard doubled (copied, or run under two indices or shard counts)", r.ID, prev, p)
			}
			if !isInput[r.ID] {
				return fmt.Errorf("merge: %s holds id %q, which is not an input: shards of another input list?", p, r.ID)
			}
			from[r.ID], results[r.ID] = p, r
		}
	}
	if len(absent) > 0 {
		return fmt.Errorf("merge: %d of %d shards missing: %s", len(absent), n, strings.Join(absent, ", "))
	}
	if len(results) < len(rows) {
		groups := embedio.Groups(len(rows), batch)
		var lost []string
		for _, r := range rows {
			if _, ok := results[r.ID]; !ok {
				lost = append(lost, fmt.Sprintf("%q (shard %d)", r.ID, embedio.Shard(r.ID, groups, n)))
			}
		}
		more := ""
		if len(lost) > 5 {
			more, lost = fmt.Sprintf(" and %d more", len(lost)-5), lost[:5]
		}
		return fmt.Errorf("merge: %d inputs are in no shard: %s%s (shards at --batch %d): rerun those shards, they resume", len(rows)-len(results), strings.Join(lost, ", "), more, batch)
	}
	failed := 0
	err := atomicfile.Write(output, 0o644, func(f *os.File) error {
		w := bufio.NewWriter(f)
		for _, r := range rows {
			res := results[r.ID]
			if res.Error != "" {
				failed++
			}
			line, err := json.Marshal(res)
			if err != nil {
				return err
			}
			w.Write(line)
			w.WriteByte('\n')
		}
		return w.Flush()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "merged %d shards: %d inputs (%d failed) into %s\n", n, len(rows), failed, output)
	if npy != "" {
		return writeNPY(npy, rows, results)
	}
	return nil
}
