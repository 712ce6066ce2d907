package mmeb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Similarity is how a query vector is compared with a candidate vector.
type Similarity int

const (
	// Cosine is the dot product of the L2-normalised vectors (the
	// reference with --normalize true, which every released script uses).
	// A zero vector scores 0.
	Cosine Similarity = iota
	// Dot is the plain dot product.
	Dot
)

// Options configures Evaluate.
type Options struct {
	// BatchSize is the number of items per Embed call; 0 means 16, V2's
	// default per-device eval batch.
	BatchSize int
	// Cache, when not nil, stores and reuses embeddings.
	Cache *Cache
	// ModelID keys the cache; when empty the embedder's ModelID() is used,
	// and a cache without any model id is an error (vectors of different
	// models must not mix).
	ModelID string
	// FlushEvery flushes the cache after this many new vectors (0: 2048)
	// and at the end of each dataset, bounding the work lost to a crash.
	FlushEvery int
	// Progress, when not nil, receives a progress bar (items/s, ETA).
	Progress io.Writer
	// Ks are the metric cutoffs; nil means DefaultKs.
	Ks []int
	// Similarity defaults to Cosine.
	Similarity Similarity
	// Ranking overrides the task's ranking mode when not empty.
	Ranking Ranking
	// KeepRankings stores each query's top-ranked candidate names in the
	// result (Result.Rankings), up to this many per query.
	KeepRankings int
	// Quirks reproduces the reference's scoring defects on request; the
	// zero value scores correctly.
	Quirks Quirks
}

// Result is the outcome of evaluating one dataset.
type Result struct {
	Task Task
	// Scores holds every metric averaged over the scored queries.
	Scores Scores
	// NumPred is the number of scored queries, NumData the rows read.
	NumPred, NumData int
	// Problems lists the malformed rows left out.
	Problems []Problem
	// Embedded counts the vectors computed; Cached those reused from the cache.
	Embedded, Cached int
	// Duration is the wall time of the evaluation.
	Duration time.Duration
	// Rankings holds, per scored query, its first KeepRankings candidate
	// names (when Options.KeepRankings > 0).
	Rankings [][]string
}

// Main returns the task's main metric (hit@1 or ndcg_linear@5).
func (r *Result) Main() float64 { return r.Scores[r.Task.Metric] }

// Evaluate embeds every unique query and candidate of ds once, ranks each
// query against its own candidates (local) or the whole pool (global) and
// computes the metrics. Ties keep the earlier candidate first (the
// reference's argmax/argsort behaviour): a row's list order for local
// ranking, first appearance across rows and then the corpus for global.
func Evaluate(ctx context.Context, emb Embedder, ds *Dataset, opts Options) (*Result, error) {
	start := time.Now()
	if emb == nil {
		return nil, errors.New("mmeb: nil embedder")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 16
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 2048
	}
	model := opts.ModelID
	if model == "" {
		if m, ok := emb.(ModelIdentifier); ok {
			model = m.ModelID()
		}
	}
	if opts.Cache != nil && model == "" {
		return nil, errors.New("mmeb: a cache needs a model id (Options.ModelID or a ModelIdentifier embedder)")
	}
	ranking := ds.Task.Ranking
	if opts.Ranking != "" {
		ranking = opts.Ranking
	}
	if ranking == "" {
		ranking = Local
	}

	u := uniqueItems(ds, ranking)
	items, qIdx, candIdx, pool := u.items, u.query, u.cand, u.pool

	vecs, embedded, cached, err := embedAll(ctx, emb, items, model, ds.Task.Name, opts)
	if err != nil {
		return nil, err
	}
	if opts.Similarity == Cosine {
		for i, v := range vecs {
			vecs[i] = normalized(v)
		}
	}
	dim := -1
	for i, v := range vecs {
		if dim < 0 {
			dim = len(v)
		} else if len(v) != dim {
			return nil, fmt.Errorf("mmeb: %s: item %d has dimension %d, others %d", ds.Task.Name, i, len(v), dim)
		}
	}

	cases := make([]Ranked, 0, len(ds.Queries))
	var rankings [][]string
	var poolVecs [][]float32
	if ranking == Global {
		poolVecs = make([][]float32, len(pool))
		for i, name := range pool {
			poolVecs[i] = vecs[candIdx[name]]
		}
	}
	for qi, q := range ds.Queries {
		if qi%64 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		qv := vecs[qIdx[qi]]
		var names []string
		var cv [][]float32
		if ranking == Global {
			names, cv = pool, poolVecs
		} else {
			names = make([]string, len(q.Candidates))
			cv = make([][]float32, len(q.Candidates))
			for i, c := range q.Candidates {
				names[i] = c.Name
				cv[i] = vecs[candIdx[c.Name]]
			}
		}
		var order []int
		if opts.Quirks.NumpyTies {
			order = numpyArgsortDesc(scores32(qv, cv))
		} else {
			order = rank(qv, cv)
		}
		pred := make([]string, len(order))
		for i, o := range order {
			pred[i] = names[o]
		}
		labels, rel := q.Labels, q.Rel
		if opts.Quirks.LabelSetOrder && rel != nil {
			labels, rel = scrambledGrades(labels, rel, opts.Quirks.PythonHashSeed)
		}
		cases = append(cases, Ranked{Prediction: pred, Labels: labels, Rel: rel})
		if opts.KeepRankings > 0 {
			rankings = append(rankings, append([]string(nil), pred[:min(len(pred), opts.KeepRankings)]...))
		}
	}
	return &Result{
		Task:     ds.Task,
		Scores:   ComputeMetrics(cases, opts.Ks),
		NumPred:  len(cases),
		NumData:  ds.Rows,
		Problems: ds.Problems,
		Embedded: embedded,
		Cached:   cached,
		Duration: time.Since(start),
		Rankings: rankings,
	}, nil
}

// unique is what a dataset needs embedded: every distinct item once, the
// item index of each query and candidate name, and the global pool order.
type unique struct {
	items []Item
	query []int
	cand  map[string]int
	pool  []string
}

// uniqueItems collects a dataset's items: queries by item key, candidates
// by name (the first item seen wins, as the reference embeds one item per
// cand_name), the corpus only when ranking globally.
func uniqueItems(ds *Dataset, ranking Ranking) unique {
	u := unique{query: make([]int, len(ds.Queries)), cand: map[string]int{}}
	itemIdx := map[string]int{}
	add := func(it Item) int {
		k := it.Key()
		if i, ok := itemIdx[k]; ok {
			return i
		}
		itemIdx[k] = len(u.items)
		u.items = append(u.items, it)
		return len(u.items) - 1
	}
	for i, q := range ds.Queries {
		u.query[i] = add(q.Item)
	}
	addCand := func(c Candidate) {
		if _, ok := u.cand[c.Name]; ok {
			return
		}
		u.cand[c.Name] = add(c.Item)
		u.pool = append(u.pool, c.Name)
	}
	for _, q := range ds.Queries {
		for _, c := range q.Candidates {
			addCand(c)
		}
	}
	if ranking == Global {
		for _, c := range ds.Corpus {
			addCand(c)
		}
	}
	return u
}

// rank orders candidates by decreasing score; equal scores keep their
// order, so the first maximum wins as with numpy's argmax.
func rank(q []float32, cands [][]float32) []int {
	scores := dots(q, cands)
	for i, s := range scores {
		if math.IsNaN(s) {
			scores[i] = math.Inf(-1)
		}
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	return order
}

// dots is each candidate's dot product with q, summed in float64.
func dots(q []float32, cands [][]float32) []float64 {
	out := make([]float64, len(cands))
	for i, c := range cands {
		s := 0.0
		for j := range q {
			s += float64(q[j]) * float64(c[j])
		}
		out[i] = s
	}
	return out
}

// normalized returns v / ‖v‖ (the norm in float64); a zero vector stays.
func normalized(v []float32) []float32 {
	n := 0.0
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// embedAll returns one vector per item, from the cache where possible,
// embedding the rest in batches.
func embedAll(ctx context.Context, emb Embedder, items []Item, model, name string, opts Options) ([][]float32, int, int, error) {
	vecs := make([][]float32, len(items))
	var todo []int
	cached := 0
	for i, it := range items {
		if opts.Cache != nil {
			v, ok, err := opts.Cache.Get(model, it)
			if err != nil {
				return nil, 0, 0, err
			}
			if ok {
				vecs[i] = v
				cached++
				continue
			}
		}
		todo = append(todo, i)
	}
	var bar *progressbar.ProgressBar
	if opts.Progress != nil && len(todo) > 0 {
		desc := name
		if cached > 0 {
			desc = fmt.Sprintf("%s (%d cached)", name, cached)
		}
		bar = progressbar.NewOptions(len(todo),
			progressbar.OptionSetWriter(opts.Progress),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("items"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(opts.Progress) }),
		)
	}
	sinceFlush := 0
	for s := 0; s < len(todo); s += opts.BatchSize {
		if err := ctx.Err(); err != nil {
			flushQuiet(opts.Cache)
			return nil, 0, 0, err
		}
		idx := todo[s:min(s+opts.BatchSize, len(todo))]
		batch := make([]Item, len(idx))
		for i, j := range idx {
			batch[i] = items[j]
		}
		out, err := emb.Embed(ctx, batch)
		if err != nil {
			flushQuiet(opts.Cache)
			return nil, 0, 0, fmt.Errorf("mmeb: %s: embed: %w", name, err)
		}
		if len(out) != len(batch) {
			flushQuiet(opts.Cache)
			return nil, 0, 0, fmt.Errorf("mmeb: %s: embedder returned %d vectors for %d items", name, len(out), len(batch))
		}
		for i, j := range idx {
			vecs[j] = out[i]
			if opts.Cache != nil {
				opts.Cache.Put(model, items[j], out[i])
			}
		}
		sinceFlush += len(idx)
		if opts.Cache != nil && sinceFlush >= opts.FlushEvery {
			if err := opts.Cache.Flush(); err != nil {
				return nil, 0, 0, err
			}
			sinceFlush = 0
		}
		if bar != nil {
			_ = bar.Add(len(idx))
		}
	}
	if opts.Cache != nil {
		if err := opts.Cache.Flush(); err != nil {
			return nil, 0, 0, err
		}
	}
	return vecs, len(todo), cached, nil
}

// flushQuiet keeps what was computed before an error or cancellation.
func flushQuiet(c *Cache) {
	if c != nil {
		_ = c.Flush()
	}
}
