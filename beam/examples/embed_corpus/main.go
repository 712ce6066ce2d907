// Command embed_corpus embeds a JSONL corpus (the `vlm2vec embed` input
// format) with an Apache Beam pipeline and writes the results as JSONL
// shards that `vlm2vec embed --merge N` checks and joins.
//
// On this machine, with the in-process Prism runner:
//
//	go run ./examples/embed_corpus --input corpus.jsonl --output out/vectors.jsonl \
//	    --checkpoint ../encoder/qwen2vl/testdata/tiny-b --runner prism
//
// The same binary runs on a cluster with Beam's runner flags (not run
// here; docs/scale-out.md lists them and how a worker image is built):
//
//	--runner flink    --endpoint localhost:8099 --environment_type DOCKER --environment_config IMAGE
//	--runner spark    --endpoint localhost:8099 --environment_type DOCKER --environment_config IMAGE
//	--runner dataflow --project P --region R --staging_location gs://B/staging --temp_location gs://B/tmp --sdk_container_image IMAGE
//
// On a cluster, --input, --output and --checkpoint must be paths the
// workers can read and write (gs://, s3://, a shared mount, or a path baked
// into the worker image for the checkpoint).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	"github.com/org/vlm2vec/beam/vlmbeam"
)

func main() {
	input := flag.String("input", "", "JSONL input file or glob (required)")
	output := flag.String("output", "", "output JSONL name: shards are NAME-0000i-of-0000N.EXT (required)")
	failures := flag.String("failures", "", "where failures go as well (default: OUTPUT's name with .failures before the extension)")
	shards := flag.Int("shards", 4, "number of output shards")
	base := flag.String("base", "", "directory relative image paths are taken from (default: the input's directory, for a local input)")
	var spec vlmbeam.Spec
	flag.StringVar(&spec.Checkpoint, "checkpoint", "", "model directory the workers can read (required)")
	flag.StringVar(&spec.Adapter, "adapter", "", "PEFT adapter directory")
	flag.StringVar(&spec.DType, "dtype", "float32", "float32 or bfloat16")
	flag.StringVar(&spec.Backend, "backend", "", `"go", "xla:cpu", "xla:cuda" ("": $GOMLX_BACKEND on the worker)`)
	flag.IntVar(&spec.BatchSize, "batch", 8, "inputs per forward pass (the same as vlm2vec embed --batch gives the same bits)")
	flag.IntVar(&spec.MaxTokens, "max-tokens", 0, "token limit of one input (0: the model's)")
	flag.BoolVar(&spec.FailLong, "fail-long", false, "fail inputs over --max-tokens instead of truncating texts")
	flag.IntVar(&spec.VideoFrames, "video-frames", 0, "frames per video (0: the family's default)")
	flag.Parse()
	beam.Init() // after flag parsing: a worker started by a runner returns from here only when done
	if err := run(context.Background(), *input, *output, *failures, *base, *shards, spec); err != nil {
		fmt.Fprintln(os.Stderr, "embed_corpus:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, input, output, failures, base string, shards int, spec vlmbeam.Spec) error {
	if input == "" || output == "" {
		flag.Usage()
		return fmt.Errorf("--input and --output are required")
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	if base == "" && !strings.Contains(input, "://") {
		base = filepath.Dir(input)
	}
	if failures == "" {
		ext := filepath.Ext(output)
		failures = strings.TrimSuffix(output, ext) + ".failures" + ext
	}
	p, s := beam.NewPipelineWithRoot()
	rows, bad := vlmbeam.ReadJSONL(s, input, base)
	embs, fails := vlmbeam.Embed(s, spec, rows)
	// Failures go with the embeddings (one line per input, as vlm2vec embed
	// writes, so --merge sees every id) and alone to their own file.
	vlmbeam.WriteJSONL(s, output, shards, beam.Flatten(s, embs, fails))
	vlmbeam.WriteJSONL(s, failures, 1, beam.Flatten(s, fails, bad))
	return beamx.Run(ctx, p)
}
