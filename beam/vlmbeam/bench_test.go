package vlmbeam

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/org/vlm2vec/embedio"
)

// BenchmarkPrismVsInProcess embeds the same 600 mixed inputs (the Prism
// test's corpus) in this process the way `vlm2vec embed` does (open the
// encoder, embed every batch group with embedio.EmbedGroup), and with the
// pipeline of the tests (ReadJSONL, Embed, WriteJSONL to 4 shards) on the
// in-process Prism runner; it reports both throughputs and their ratio
// (Prism/in-process; 1 means no engine overhead).
func BenchmarkPrismVsInProcess(b *testing.B) {
	dir := b.TempDir()
	in, rows, _ := corpus(b, dir, 600)
	ctx := context.Background()
	var direct, onPrism time.Duration
	for i := range b.N {
		start := time.Now()
		enc, err := spec.Open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		g := embedio.Groups(len(rows), spec.batch())
		groups := make([][]embedio.Row, g)
		for _, r := range rows {
			groups[embedio.Group(r.ID, g)] = append(groups[embedio.Group(r.ID, g)], r)
		}
		for _, grp := range groups {
			if _, err := embedio.EmbedGroup(ctx, enc, grp); err != nil {
				// The corpus repeats two ids on purpose; the pipeline
				// fails them, here they are dropped from their group.
				seen, uniq := map[string]int{}, grp[:0:0]
				for _, r := range grp {
					seen[r.ID]++
				}
				for _, r := range grp {
					if seen[r.ID] == 1 {
						uniq = append(uniq, r)
					}
				}
				if _, err := embedio.EmbedGroup(ctx, enc, uniq); err != nil {
					b.Fatal(err)
				}
			}
		}
		enc.Close()
		direct += time.Since(start)

		start = time.Now()
		if _, err := prism.Execute(ctx, pipeline(in, dir, filepath.Join(dir, fmt.Sprint("out", i)))); err != nil {
			b.Fatal(err)
		}
		onPrism += time.Since(start)
	}
	n := float64(len(rows) * b.N)
	b.ReportMetric(n/direct.Seconds(), "inprocess_inputs/s")
	b.ReportMetric(n/onPrism.Seconds(), "prism_inputs/s")
	b.ReportMetric(direct.Seconds()/onPrism.Seconds(), "ratio")
}

// BenchmarkEncoderOpen is a worker's start-up cost: opening the encoder
// (config, weights, tokenizer) once, as Setup does.
func BenchmarkEncoderOpen(b *testing.B) {
	for range b.N {
		enc, err := spec.Open(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		enc.Close()
	}
}
