package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// child runs the command in a fresh process of this test binary (as a
// scheduler would start a shard: its own process, its own encoder).
func child(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "VLM2VEC_EMBED_CHILD="+strings.Join(args, "\x1f"))
	return cmd
}

// BenchmarkShardsVsSingle embeds the same 600 mixed inputs (the shard
// tests' corpus: texts, images, two bad inputs) with one `vlm2vec embed`
// process, and with --shard 0/2 and 1/2 as two processes at once followed
// by --merge 2, each in fresh processes, and reports both throughputs and
// their ratio (sharded/single; > 1 means the shards were faster). On one
// machine the shards share its cores, so this measures the overhead of
// sharding (a second encoder, process start, the merge), not a speed-up.
func BenchmarkShardsVsSingle(b *testing.B) {
	dir := b.TempDir()
	in, rows := shardCorpus(b, dir, 600)
	var single, sharded time.Duration
	for i := range b.N {
		out := filepath.Join(dir, fmt.Sprintf("single%d.jsonl", i))
		start := time.Now()
		if o, err := child("embed", "--model", tiny, "--quiet", "--input", in, "--output", out).CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, o)
		}
		single += time.Since(start)

		out = filepath.Join(dir, fmt.Sprintf("sharded%d.jsonl", i))
		start = time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if o, err := child("embed", "--model", tiny, "--quiet", "--input", in, "--output", out, "--shard", fmt.Sprintf("%d/2", k)).CombinedOutput(); err != nil {
					errs[k] = fmt.Errorf("%v\n%s", err, o)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		if o, err := child("embed", "--input", in, "--output", out, "--merge", "2").CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, o)
		}
		sharded += time.Since(start)
		a, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("single%d.jsonl", i)))
		if c := bytes.Count(a, []byte("\n")); c != len(rows) {
			b.Fatalf("single run wrote %d lines", c)
		}
	}
	n := float64(len(rows) * b.N)
	b.ReportMetric(n/single.Seconds(), "single_inputs/s")
	b.ReportMetric(n/sharded.Seconds(), "2shards_inputs/s")
	b.ReportMetric(single.Seconds()/sharded.Seconds(), "ratio")
}
