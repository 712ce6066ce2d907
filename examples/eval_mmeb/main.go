// Command eval_mmeb evaluates an embedder on MMEB data and prints the
// per-dataset scores and the papers' aggregate tables.
//
//	go run ./examples/eval_mmeb --data DIR --images DIR [--datasets A,B] [--limit N] [--out DIR]
//
// --data holds one entry per dataset, named as the benchmark names it: a
// directory of parquet shards (an MMEB-eval or MMEB_Test_Instruct config,
// a video-classification table) or a BEIR directory with queries/, corpus/
// and qrels/ (visual documents). The layout is detected per dataset.
// See docs/mmeb.md for the real TIGER-Lab/MMEB-eval and TIGER-Lab/MMEB-V2
// layouts.
//
// --embedder encoder --model DIR evaluates a checkpoint of any supported family (with
// --adapter for a PEFT adapter) through package encoder. --embedder
// trivial is a model-free colour/word matcher (mmeb.ColorWordEmbedder)
// for checking the pipeline on the synthetic benchmark; its scores on real
// data mean nothing.
package main

import (
	"fmt"
	"os"

	"github.com/org/vlm2vec/internal/evalcmd"
)

func main() {
	if err := evalcmd.Run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "eval_mmeb:", err)
		os.Exit(1)
	}
}
