// Package evalcmd is the MMEB evaluation command (examples/eval_mmeb and
// "vlm2vec eval"): it evaluates an embedder on MMEB data and prints the
// per-dataset scores and the papers' aggregate tables. See Run.
package evalcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/org/vlm2vec/internal/atomicfile"
	"github.com/org/vlm2vec/mmeb"
)

// Run runs the command on its arguments (flags as examples/eval_mmeb
// documents them).
func Run(args []string, stdout, stderr io.Writer) error { return run(args, stdout, stderr) }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval_mmeb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "directory with one subdirectory (or .parquet) per dataset; a comma-separated list is searched in order (required)")
	images := fs.String("images", "", "image root the rows' image paths are relative to (MMEB-eval: eval_images/, MMEB-V2: image-tasks/)")
	pages := fs.String("pages", "", "visual-document page root, e.g. MMEB-V2 visdoc-tasks; pages are read from (and missing ones extracted to) <pages>/<dataset folder>/ (default: --images)")
	frames := fs.String("frames", "", "video frame root: MMEB-V2's video-tasks/frames (tasks read <frames>/video_cls/K700/..., video_qa/..., video_ret/..., video_mret/...; default: --images)")
	datasets := fs.String("datasets", "", "comma-separated datasets, meta-tasks (CLS, VQA, RET, VG, V-CLS, VDRv1, …) or modalities (image, video, visdoc); default: every dataset found under --data")
	limit := fs.Int("limit", 0, "evaluate only the first N rows (queries) of each dataset; 0 = all")
	out := fs.String("out", "", "output directory for <dataset>_score.json, all_scores.json, table.md, scores.png and the embedding cache")
	embedder := fs.String("embedder", "", `"encoder" (a checkpoint, see --model; the default when --model is given), "trivial" (a model-free colour/word matcher for pipeline tests, not a model) or "imported" (only --import-embeddings' vectors; the default with it and no --model)`)
	modelDir := fs.String("model", "", "checkpoint directory for --embedder encoder")
	adapterDir := fs.String("adapter", "", "PEFT adapter directory for --embedder encoder")
	backend := fs.String("backend", "", "GoMLX backend for --embedder encoder (default: GOMLX_BACKEND or the pure-Go one)")
	batch := fs.Int("batch", 16, "items per embedding batch")
	cacheDir := fs.String("cache", "", "embedding cache directory (default <out>/cache; \"off\" disables)")
	modelID := fs.String("model-id", "", "model id for the cache and reports (default: the embedder's)")
	quiet := fs.Bool("quiet", false, "no progress bars")
	quirks := fs.Bool("reference-quirks", false, "score as the reference does, defects included: graded relevances paired with labels in CPython's set order (see --python-hash-seed) and numpy's unstable tie order (its scalar sort); default: the correct scoring")
	hashSeed := fs.Uint("python-hash-seed", 0, "PYTHONHASHSEED the --reference-quirks set order is computed for (0: randomisation off)")
	exportItems := fs.String("export-items", "", "embed nothing: write every item the selected datasets need as a JSONL of inputs (ids from mmeb.ItemID) for `vlm2vec embed` (or its --shard runs, or the Beam transform), then stop")
	importEmb := fs.String("import-embeddings", "", "a JSONL of embeddings (`vlm2vec embed` output for --export-items' file) to put into the cache under --model-id before evaluating; items it lacks are embedded by --model/--embedder if given, else they are an error")
	aggregate := fs.Bool("aggregate", false, "embed nothing: read existing score files from the directories (or all_scores.json files) given as arguments, one model each, and print the V1/V2 tables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *aggregate {
		return runAggregate(fs.Args(), *out, stdout, stderr)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (only --aggregate takes directories)", fs.Args())
	}
	if *data == "" {
		fs.Usage()
		return errors.New("--data is required")
	}
	if *embedder == "" && *modelDir == "" && *importEmb == "" && *exportItems == "" {
		return errors.New("give --model DIR to evaluate a checkpoint (or --embedder trivial for a model-free pipeline test)")
	}
	dataDirs := strings.Split(*data, ",")
	if *images == "" {
		*images = dataDirs[0]
	}
	if *pages == "" {
		*pages = *images
	}
	if *frames == "" {
		*frames = *images
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	tasks, err := selectTasks(dataDirs, *datasets)
	if err != nil {
		return err
	}
	if len(tasks) == 0 {
		return fmt.Errorf("no MMEB dataset found under %s", *data)
	}
	var loaded []*mmeb.Dataset
	var missing []string
	for _, t := range tasks {
		root := *images
		switch t.Modality {
		case mmeb.ModVisDoc:
			root = filepath.Join(*pages, t.Dir)
		case mmeb.ModVideo:
			root = *frames
		}
		ds, err := mmeb.Open(ctx, findDir(dataDirs, t), root, t, mmeb.LoadOptions{Limit: *limit})
		if errors.Is(err, mmeb.ErrMissing) {
			missing = append(missing, t.Name) // reported below and FILE_N/A in all_scores.json
			continue
		}
		if err != nil {
			return err
		}
		if len(ds.Problems) > 0 {
			fmt.Fprintf(stderr, "%s: %d of %d rows malformed and left out", t.Name, len(ds.Problems), ds.Rows)
			for i, p := range ds.Problems {
				if i == 3 {
					fmt.Fprintf(stderr, "; …")
					break
				}
				fmt.Fprintf(stderr, "; %s", p)
			}
			fmt.Fprintln(stderr)
		}
		loaded = append(loaded, ds)
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "%d selected datasets not found under --data, left out: %s\n", len(missing), strings.Join(missing, ", "))
	}
	if len(loaded) == 0 {
		return fmt.Errorf("none of the selected datasets was found under %s", *data)
	}
	if *exportItems != "" {
		var n int
		err := atomicfile.Write(*exportItems, 0o644, func(f *os.File) error {
			var err error
			n, err = mmeb.ExportItems(f, loaded)
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %d items of %d datasets to %s\n", n, len(loaded), *exportItems)
		return nil
	}

	if *embedder == "" {
		switch {
		case *modelDir != "":
			*embedder = "encoder"
		case *importEmb != "":
			*embedder = "imported"
		default:
			return errors.New("give --model DIR to evaluate a checkpoint (or --embedder trivial for a model-free pipeline test)")
		}
	}
	var emb mmeb.Embedder
	switch *embedder {
	case "imported":
		emb = mmeb.EmbedderFunc(func(_ context.Context, items []mmeb.Item) ([][]float32, error) {
			return nil, fmt.Errorf("%d items are not in the imported embeddings (%s) and no --model is given to embed them", len(items), *importEmb)
		})
	case "trivial":
		emb = &mmeb.ColorWordEmbedder{}
	case "encoder":
		if *modelDir == "" {
			return errors.New("--embedder encoder needs --model")
		}
		enc, e, err := openEncoder(ctx, *modelDir, *adapterDir, *backend, *batch)
		if err != nil {
			return err
		}
		defer enc.Close()
		emb = e
	default:
		return fmt.Errorf("unknown embedder %q (want encoder or trivial)", *embedder)
	}
	model := *modelID
	if model == "" {
		if m, ok := emb.(mmeb.ModelIdentifier); ok {
			model = m.ModelID()
		}
	}

	if *importEmb != "" && model == "" {
		return errors.New("--import-embeddings needs --model-id (or --model): the id the embeddings are cached under")
	}

	var cache *mmeb.Cache
	if *cacheDir != "off" && (*cacheDir != "" || *out != "") {
		dir := *cacheDir
		if dir == "" {
			dir = filepath.Join(*out, "cache")
		}
		if cache, err = mmeb.OpenCache(dir); err != nil {
			return err
		}
		defer cache.Close()
		for _, b := range cache.BadSegments() {
			fmt.Fprintln(stderr, "cache: skipped damaged segment", b)
		}
	}
	if *importEmb != "" {
		if cache == nil {
			return errors.New("--import-embeddings needs a cache (--out or --cache)")
		}
		f, err := os.Open(*importEmb)
		if err != nil {
			return err
		}
		rep, err := mmeb.ImportEmbeddings(f, cache, model, loaded)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "imported %d embeddings (%d lines with errors, %d of other items, %d items not in the file)\n",
			rep.Imported, rep.Failed, rep.Unknown, rep.Missing)
	}
	opts := mmeb.Options{BatchSize: *batch, Cache: cache, ModelID: model}
	if *quirks {
		if *hashSeed > math.MaxUint32 {
			return fmt.Errorf("--python-hash-seed %d is out of range (0 to %d, as PYTHONHASHSEED)", *hashSeed, uint32(math.MaxUint32))
		}
		opts.Quirks = mmeb.Quirks{LabelSetOrder: true, NumpyTies: true, PythonHashSeed: uint32(*hashSeed)}
	}
	if !*quiet {
		opts.Progress = stderr
	}

	var results []*mmeb.Result
	for _, ds := range loaded {
		res, err := mmeb.Evaluate(ctx, emb, ds, opts)
		if err != nil {
			return err
		}
		results = append(results, res)
		if *out != "" {
			if err := mmeb.WriteScoreFile(*out, res); err != nil {
				return err
			}
			if err := writeProblems(*out, res); err != nil {
				return err
			}
		}
	}

	report := renderReport(model, results)
	fmt.Fprint(stdout, report)
	if *out != "" {
		if err := atomicfile.WriteBytes(filepath.Join(*out, "table.md"), []byte(report), 0o644); err != nil {
			return err
		}
		all, err := mmeb.NewAllScores(model, results).MarshalJSON()
		if err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(filepath.Join(*out, "all_scores.json"), all, 0o644); err != nil {
			return err
		}
		err = atomicfile.Write(filepath.Join(*out, "scores.png"), 0o644, func(f *os.File) error {
			return mmeb.PlotPNG(f, "MMEB - "+model, results)
		})
		if err != nil {
			return err
		}
		if err := writeTablePlot(*out, []string{model}, []map[string]float64{mmeb.MainScores(results)}); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s (per-dataset *_score.json, all_scores.json, table.md, scores.png, v2_table.png)\n", *out)
	}
	return nil
}

// selectTasks resolves --datasets, or lists the datasets present in dirs.
func selectTasks(dirs []string, spec string) ([]mmeb.Task, error) {
	if spec != "" {
		return mmeb.SelectTasks(mmeb.Tasks(), spec)
	}
	var found []mmeb.Task
	for _, t := range mmeb.Tasks() {
		if has(dirs, t) != "" {
			found = append(found, t)
		}
	}
	return found, nil
}

// has returns the first directory holding dataset t, or "".
func has(dirs []string, t mmeb.Task) string {
	for _, dir := range dirs {
		for _, name := range []string{t.Name, t.Name + ".parquet"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return dir
			}
		}
	}
	return ""
}

// findDir picks the directory to load t from (the first, when none has
// it, so that the loader reports what it looked for).
func findDir(dirs []string, t mmeb.Task) string {
	if d := has(dirs, t); d != "" {
		return d
	}
	return dirs[0]
}

func renderReport(model string, results []*mmeb.Result) string {
	var b strings.Builder
	b.WriteString("## Per dataset\n\n")
	b.WriteString(mmeb.MarkdownDatasets(results))
	main := mmeb.MainScores(results)
	hasV1 := false
	for _, r := range results {
		hasV1 = hasV1 || r.Task.InV1
	}
	if hasV1 {
		b.WriteString("\n## MMEB-V1 (Precision@1, %)\n\n")
		b.WriteString(mmeb.Markdown(model, mmeb.V1Table(main)))
	}
	b.WriteString("\n## MMEB-V2 (image/video hit@1, visdoc NDCG@5, %)\n\n")
	b.WriteString(mmeb.Markdown(model, mmeb.V2Table(main)))
	b.WriteString("\nGroups marked (n/N) are means over the n datasets evaluated, not the full benchmark.\n")
	return b.String()
}

func writeProblems(dir string, r *mmeb.Result) error {
	if len(r.Problems) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return atomicfile.WriteBytes(filepath.Join(dir, r.Task.Name+"_problems.txt"), []byte(b.String()), 0o644)
}
