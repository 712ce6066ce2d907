package vlmbeam

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths work out of the box
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/org/vlm2vec/embedio"
)

func init() {
	register.DoFn3x0[string, func(embedio.Row), func(embedio.Result)](&parseFn{})
	register.DoFn2x1[embedio.Result, func(int, string), error](&shardLineFn{})
	register.DoFn3x1[context.Context, int, func(*string) bool, error](&writeShardFn{})
	register.Function1x2(shardMarker)
	register.Emitter1[embedio.Row]()
	register.Emitter2[int, string]()
	register.Iter1[string]()
}

// ReadJSONL reads input rows from the JSONL files matching glob (local
// paths, gs://, s3:// and every filesystem Beam has registered) with
// Beam's textio. Relative image and frame paths are resolved against base
// ("" leaves them as they are). Lines are parsed strictly as `vlm2vec
// embed` does; unlike the command, an id is required (a line number means
// nothing once a runner splits the files). A line that is not a row goes
// to failures with an empty id and the line's start in the error text.
func ReadJSONL(s beam.Scope, glob, base string) (rows, failures beam.PCollection) {
	s = s.Scope("vlmbeam.ReadJSONL")
	return beam.ParDo2(s, &parseFn{Base: base}, textio.Read(s, glob))
}

// parseFn parses one input line.
type parseFn struct {
	Base string `json:"base"`
}

// ProcessElement emits the line's row, or a failure.
func (f *parseFn) ProcessElement(line string, emit func(embedio.Row), fail func(embedio.Result)) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	r, err := embedio.ParseRow([]byte(line))
	if err == nil && r.ID == "" {
		err = fmt.Errorf("no id")
	}
	if err != nil {
		fail(embedio.Result{ID: r.ID, Error: fmt.Sprintf("bad input line %.80q: %v", line, err)})
		return
	}
	if f.Base != "" {
		r = r.Resolve(f.Base)
	}
	emit(r)
}

// WriteJSONL writes results (a PCollection of embedio.Result) as JSONL
// shards through Beam's filesystems: output "out/vectors.jsonl" with 4
// shards gives out/vectors-00000-of-00004.jsonl ... -00003-of-00004.jsonl
// (embedio.ShardPath, the names `vlm2vec embed --shard` writes), so
// `vlm2vec embed --merge 4` can check the output against the input list
// and join it. A result goes to shard Hash(id) mod shards; every shard file
// is written, empty or not, its lines sorted by id (reruns give the same
// bytes). Each file is written under a temporary name and renamed where
// the filesystem can rename (local, GCS), so a retried write never leaves
// a torn file under the final name.
func WriteJSONL(s beam.Scope, output string, shards int, results beam.PCollection) {
	s = s.Scope("vlmbeam.WriteJSONL")
	shards = max(shards, 1)
	filesystem.ValidateScheme(output)
	idx := make([]int, shards)
	for i := range idx {
		idx[i] = i
	}
	// One empty marker line per shard, so that a shard no result falls in
	// is still written (a missing file means an unfinished job).
	markers := beam.ParDo(s, shardMarker, beam.CreateList(s, idx))
	lines := beam.ParDo(s, &shardLineFn{Shards: shards}, results)
	beam.ParDo0(s, &writeShardFn{Output: output, Shards: shards}, beam.GroupByKey(s, beam.Flatten(s, markers, lines)))
}

func shardMarker(i int) (int, string) { return i, "" }

// shardLineFn keys a result's JSON line by its output shard.
type shardLineFn struct {
	Shards int `json:"shards"`
}

// ProcessElement emits (shard, line).
func (f *shardLineFn) ProcessElement(r embedio.Result, emit func(int, string)) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("vlmbeam: encoding %q: %w", r.ID, err)
	}
	emit(int(embedio.Hash(r.ID)%uint64(f.Shards)), string(line))
	return nil
}

// writeShardFn writes one shard file.
type writeShardFn struct {
	Output string `json:"output"`
	Shards int    `json:"shards"`
}

// ProcessElement writes shard i's lines, sorted, to a temporary file and
// renames it into place.
func (f *writeShardFn) ProcessElement(ctx context.Context, i int, lines func(*string) bool) (err error) {
	var all []string
	var l string
	for lines(&l) {
		if l != "" {
			all = append(all, l)
		}
	}
	slices.Sort(all) // lines start with {"id":..., so this is id order
	name := embedio.ShardPath(f.Output, i, f.Shards)
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fs.Close()
	renamer, canRename := fs.(filesystem.Renamer)
	target := name
	if canRename {
		dir, base := path.Split(name)
		target = dir + "." + base + ".tmp"
	}
	w, err := fs.OpenWrite(ctx, target)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for _, l := range all {
		bw.WriteString(l)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		w.Close()
		return fmt.Errorf("vlmbeam: writing %s: %w", target, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("vlmbeam: writing %s: %w", target, err)
	}
	if canRename {
		return renamer.Rename(ctx, target, name)
	}
	return nil
}
