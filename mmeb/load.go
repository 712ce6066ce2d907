package mmeb

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/vlm2vec/instruct"
)

// Dataset is one evaluation dataset ready to score.
type Dataset struct {
	Task Task
	// Queries are the well-formed rows, in source order.
	Queries []Query
	// Corpus holds pool entries that no row lists (the visual-document
	// corpora); global ranking appends them after the rows' candidates.
	Corpus []Candidate
	// Rows is how many source rows were read (after Limit), well-formed or not.
	Rows int
	// Problems lists every malformed row that was left out, with the reason.
	Problems []Problem
}

// Query is one query row.
type Query struct {
	Row  int    // 0-based row number in the source table
	ID   string // the source's query id, or the row number
	Item Item
	// Candidates are the row's own candidates (what local ranking ranks);
	// for global tasks they are the row's relevant items, which also fix
	// the pool order as in the reference.
	Candidates []Candidate
	// Labels are the relevant candidate names; Rel their graded relevance
	// (nil: binary).
	Labels []string
	Rel    []float64
}

// Candidate is one rankable item with the name it is scored by. Items
// with the same name are one candidate (the first one seen is embedded),
// as in the reference's de-duplication by cand_name.
type Candidate struct {
	Name string
	Item Item
}

// Problem is a malformed row that was left out.
type Problem struct {
	Table  string // "" for the main table, or "queries", "qrels", "corpus"
	Row    int    // 0-based row number, -1 when not tied to a row
	Reason string
}

func (p Problem) String() string {
	t := p.Table
	if t == "" {
		t = "row"
	} else {
		t += " row"
	}
	if p.Row < 0 {
		return p.Reason
	}
	return fmt.Sprintf("%s %d: %s", t, p.Row, p.Reason)
}

// LoadOptions tunes the loaders.
type LoadOptions struct {
	// Limit keeps only the first Limit rows (queries), like the
	// reference's num_sample_per_subset; 0 keeps all.
	Limit int
	// SkipFileCheck skips checking that every referenced image exists.
	SkipFileCheck bool
	// Frames is the number of frames sampled per video (the reference's
	// num_frames); 0 means 8.
	Frames int
	// Language keeps only visual-document queries in this language (the
	// English-only ViDoRe-v2 variants); "" keeps all.
	Language string
}

// errSkip marks a row problem inside a loader.
type rowError struct{ reason string }

func (e rowError) Error() string { return e.reason }

func skip(format string, a ...any) error { return rowError{fmt.Sprintf(format, a...)} }

// loader carries what every loader needs: the image root, a stat cache and
// string interning (candidate lists repeat the same strings a thousand
// times per dataset).
type loader struct {
	root   string
	opts   LoadOptions
	exists map[string]bool
	intern map[string]string
}

func newLoader(root string, opts LoadOptions) *loader {
	return &loader{root: root, opts: opts, exists: map[string]bool{}, intern: map[string]string{}}
}

func (l *loader) s(v string) string {
	if w, ok := l.intern[v]; ok {
		return w
	}
	l.intern[v] = v
	return v
}

// image builds an image reference: rel is the path as stored.
func (l *loader) image(rel string) (string, error) {
	if rel == "" {
		return "", nil
	}
	full := rel
	if !filepath.IsAbs(rel) {
		full = filepath.Join(l.root, rel)
	}
	if !l.opts.SkipFileCheck {
		ok, seen := l.exists[full]
		if !seen {
			st, err := os.Stat(full)
			ok = err == nil && !st.IsDir()
			l.exists[full] = ok
		}
		if !ok {
			return "", skip("missing image %q", rel)
		}
	}
	return l.s(full), nil
}

func (l *loader) item(text, relImage string) (Item, error) {
	img, err := l.image(relImage)
	if err != nil {
		return Item{}, err
	}
	return Item{Text: l.s(text), Image: img, ref: l.s(relImage)}, nil
}

func (l *loader) limit(n int) int {
	if l.opts.Limit > 0 && l.opts.Limit < n {
		return l.opts.Limit
	}
	return n
}

// LoadV1 reads one MMEB-eval (V1) dataset: the parquet shards at path (a
// file or a directory) with columns qry_text, qry_img_path, tgt_text[] and
// tgt_img_path[]; image paths are relative to imageRoot. The first
// candidate of each row is the ground truth; candidates are named by
// (text, image) so that identical items are one candidate, as V1 embeds
// unique (text, image) pairs.
func LoadV1(ctx context.Context, path, imageRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	files, err := parquetFiles(path)
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	t, err := readParquet(files, []colSpec{
		{path: []string{"qry_text"}},
		{path: []string{"qry_img_path"}},
		{path: []string{"tgt_text"}, kind: colList},
		{path: []string{"tgt_img_path"}, kind: colList},
	})
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	return buildV1(ctx, t, imageRoot, task, opts)
}

func buildV1(ctx context.Context, t *pqTable, imageRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	l := newLoader(imageRoot, opts)
	ds := &Dataset{Task: task}
	qt, qi, tt, ti := t.col("qry_text"), t.col("qry_img_path"), t.col("tgt_text"), t.col("tgt_img_path")
	n := l.limit(t.rows)
	ds.Rows = n
	for r := 0; r < n; r++ {
		if r%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		q, err := func() (Query, error) {
			switch {
			case qt.at(r).null:
				return Query{}, skip("qry_text is null")
			case qi.at(r).null:
				return Query{}, skip("qry_img_path is null")
			case tt.at(r).null || ti.at(r).null:
				return Query{}, skip("candidate list is null")
			case len(tt.at(r).list) != len(ti.at(r).list):
				return Query{}, skip("tgt_text has %d entries but tgt_img_path %d", len(tt.at(r).list), len(ti.at(r).list))
			case len(tt.at(r).list) == 0:
				return Query{}, skip("empty candidate list")
			case tt.at(r).nulls > 0 || ti.at(r).nulls > 0:
				return Query{}, skip("null candidate entries")
			case qt.at(r).str == "" && qi.at(r).str == "":
				return Query{}, skip("empty query")
			}
			qitem, err := l.item(qt.at(r).str, qi.at(r).str)
			if err != nil {
				return Query{}, err
			}
			q := Query{Row: r, ID: fmt.Sprint(r), Item: qitem}
			q.Candidates = make([]Candidate, len(tt.at(r).list))
			for i := range tt.at(r).list {
				text, img := tt.at(r).list[i], ti.at(r).list[i]
				if text == "" && img == "" {
					return Query{}, skip("candidate %d is empty", i)
				}
				it, err := l.item(text, img)
				if err != nil {
					return Query{}, fmt.Errorf("candidate %d: %w", i, err)
				}
				q.Candidates[i] = Candidate{Name: l.s(it.Key()), Item: it}
			}
			q.Labels = []string{q.Candidates[0].Name}
			return q, nil
		}()
		if err != nil {
			ds.Problems = append(ds.Problems, Problem{Row: r, Reason: err.Error()})
			continue
		}
		ds.Queries = append(ds.Queries, q)
	}
	return ds, nil
}

// LoadInstruct reads one MMEB_Test_Instruct dataset (what V2 evaluates the
// 36 image tasks on): columns qry_inst, qry_text, qry_img_path, tgt_inst,
// tgt_text[], tgt_img_path[]. Strings are rebuilt with V2's rules for the
// task's family (instruct.V2Query, instruct.V2Candidates) in data format,
// and candidates are named as V2 names them.
func LoadInstruct(ctx context.Context, path, imageRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	if task.Family == "" {
		return nil, fmt.Errorf("mmeb: %s: not an image task, no MMEB_Test_Instruct parser", task.Name)
	}
	files, err := parquetFiles(path)
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	imgTargets := task.Family == instruct.FamilyT2I || task.Family == instruct.FamilyI2IVG
	t, err := readParquet(files, []colSpec{
		{path: []string{"qry_inst"}},
		{path: []string{"qry_text"}},
		{path: []string{"qry_img_path"}, optional: task.Family == instruct.FamilyT2I},
		{path: []string{"tgt_inst"}, optional: !imgTargets},
		{path: []string{"tgt_text"}, kind: colList},
		{path: []string{"tgt_img_path"}, kind: colList, optional: !imgTargets},
	})
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	return buildInstruct(ctx, t, imageRoot, task, opts)
}

func buildInstruct(ctx context.Context, t *pqTable, imageRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	l := newLoader(imageRoot, opts)
	ds := &Dataset{Task: task}
	qinst, qtext, qimg := t.col("qry_inst"), t.col("qry_text"), t.col("qry_img_path")
	tinst, ttext, timg := t.col("tgt_inst"), t.col("tgt_text"), t.col("tgt_img_path")
	imgTargets := task.Family == instruct.FamilyT2I || task.Family == instruct.FamilyI2IVG
	n := l.limit(t.rows)
	ds.Rows = n
	for r := 0; r < n; r++ {
		if r%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		q, err := func() (Query, error) {
			switch {
			case qinst.at(r).null || qtext.at(r).null:
				return Query{}, skip("qry_inst or qry_text is null")
			case ttext.at(r).null || len(ttext.at(r).list) == 0:
				return Query{}, skip("empty candidate list")
			case ttext.at(r).nulls > 0:
				return Query{}, skip("null candidate entries")
			}
			rq, err := instruct.V2Query(task.Family, task.Name, qinst.at(r).str, qtext.at(r).str, instruct.Phi3V)
			if err != nil {
				return Query{}, err
			}
			imgRel := ""
			if rq.Image {
				if qimg.at(r).null || qimg.at(r).str == "" {
					return Query{}, skip("query image path is empty")
				}
				imgRel = qimg.at(r).str
			}
			qitem, err := l.item(rq.Text, imgRel)
			if err != nil {
				return Query{}, err
			}
			q := Query{Row: r, ID: fmt.Sprint(r), Item: qitem}
			var paths []string
			inst := ""
			if imgTargets {
				if timg.at(r).null || tinst.at(r).null {
					return Query{}, skip("tgt_img_path or tgt_inst is null")
				}
				if len(timg.at(r).list) != len(ttext.at(r).list) {
					return Query{}, skip("tgt_text has %d entries but tgt_img_path %d", len(ttext.at(r).list), len(timg.at(r).list))
				}
				paths, inst = timg.at(r).list, tinst.at(r).str
			}
			cands, names, err := instruct.V2Candidates(task.Family, inst, ttext.at(r).list, paths, instruct.Phi3V)
			if err != nil {
				return Query{}, err
			}
			q.Candidates = make([]Candidate, len(cands))
			for i, c := range cands {
				rel := ""
				if c.Image {
					if paths[i] == "" {
						return Query{}, skip("candidate %d has no image", i)
					}
					rel = paths[i]
				} else if c.Text == "" {
					return Query{}, skip("candidate %d is empty", i)
				}
				it, err := l.item(c.Text, rel)
				if err != nil {
					return Query{}, fmt.Errorf("candidate %d: %w", i, err)
				}
				q.Candidates[i] = Candidate{Name: l.s(names[i]), Item: it}
			}
			q.Labels = []string{q.Candidates[0].Name}
			return q, nil
		}()
		if err != nil {
			ds.Problems = append(ds.Problems, Problem{Row: r, Reason: err.Error()})
			continue
		}
		ds.Queries = append(ds.Queries, q)
	}
	return ds, nil
}

// LoadVisDoc reads one MMEB-V2 visual-document dataset in the BEIR layout
// the reference loads from the Hub: dir holds queries, corpus and qrels,
// each a directory of parquet shards or a single <name>.parquet, with
// columns query-id, query [, language]; corpus-id [, image]; query-id,
// corpus-id, score. Page images are read from imageRoot as
// <corpus-id>.png (ViDoRe, ViDoSeek, MMLongBench) or under VisRAG's
// shortened name (see VisRAGImageName). Missing page images are written
// from the corpus's embedded image bytes when it has them, as the
// reference does.
//
// As in the reference, qrels with score <= 0 are dropped, a repeated
// (query, doc) pair keeps its highest score, every query is ranked against
// the whole corpus, and graded scores feed NDCG.
func LoadVisDoc(ctx context.Context, dir, imageRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	part := func(name string) ([]string, error) {
		if files, err := parquetFiles(filepath.Join(dir, name)); err == nil {
			return files, nil
		}
		return parquetFiles(filepath.Join(dir, name+".parquet"))
	}
	qf, err := part("queries")
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: queries: %w", task.Name, err)
	}
	cf, err := part("corpus")
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: corpus: %w", task.Name, err)
	}
	rf, err := part("qrels")
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: qrels: %w", task.Name, err)
	}
	qt, err := readParquet(qf, []colSpec{{path: []string{"query-id"}}, {path: []string{"query"}}, {path: []string{"language"}, optional: true}})
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: queries: %w", task.Name, err)
	}
	rt, err := readParquet(rf, []colSpec{{path: []string{"query-id"}}, {path: []string{"corpus-id"}}, {path: []string{"score"}}})
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: qrels: %w", task.Name, err)
	}
	ct, err := readParquet(cf, []colSpec{{path: []string{"corpus-id"}}})
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: corpus: %w", task.Name, err)
	}
	return buildVisDoc(ctx, qt, rt, ct, cf, imageRoot, task, opts)
}

// VisRAGImageName is the file name VisRAG page images are stored under:
// the name's stem (os.path.splitext) cut to its first 50 characters (code
// points, as Python slices a str), "_", the first 8 hex digits of the MD5
// of the full name's UTF-8, and the extension.
func VisRAGImageName(corpusID string) string {
	base, ext := pySplitext(corpusID)
	if r := []rune(base); len(r) > 50 {
		base = string(r[:50])
	}
	sum := md5.Sum([]byte(corpusID))
	return base + "_" + hex.EncodeToString(sum[:])[:8] + ext
}

// pySplitext splits a path as Python's posixpath.splitext does: the
// extension is the last "." of the last path element and what follows,
// unless that element is only dots up to it (".bashrc" has none).
func pySplitext(p string) (root, ext string) {
	dot := strings.LastIndexByte(p, '.')
	slash := strings.LastIndexByte(p, '/')
	if dot <= slash {
		return p, ""
	}
	for i := slash + 1; i < dot; i++ {
		if p[i] != '.' {
			return p[:dot], p[dot:]
		}
	}
	return p, ""
}

func pageImageName(task Task, corpusID string) string {
	if strings.HasPrefix(task.Name, "VisRAG_") {
		return VisRAGImageName(corpusID)
	}
	return corpusID + ".png"
}

func buildVisDoc(ctx context.Context, qt, rt, ct *pqTable, corpusFiles []string, imageRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	l := newLoader(imageRoot, opts)
	ds := &Dataset{Task: task}
	tgtText := instruct.ProcessData(instruct.VisDocTarget, "", false, true)

	// Corpus, in order; missing page images may be extracted below.
	cids := ct.col("corpus-id")
	inCorpus := map[string]bool{}
	var missing []int
	for r, c := range cids {
		if c.null || c.str == "" {
			ds.Problems = append(ds.Problems, Problem{Table: "corpus", Row: r, Reason: "corpus-id is empty"})
			continue
		}
		if inCorpus[c.str] {
			ds.Problems = append(ds.Problems, Problem{Table: "corpus", Row: r, Reason: fmt.Sprintf("duplicate corpus-id %q", c.str)})
			continue
		}
		inCorpus[c.str] = true
		if !opts.SkipFileCheck {
			if _, err := os.Stat(filepath.Join(imageRoot, pageImageName(task, c.str))); err != nil {
				missing = append(missing, r)
			}
		}
	}
	if len(missing) > 0 {
		if err := extractPageImages(corpusFiles, imageRoot, task, missing); err != nil {
			return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
		}
	}
	docs := map[string]Candidate{}
	var corpusOrder []string
	for r, c := range cids {
		if c.null || c.str == "" {
			continue
		}
		if _, dup := docs[c.str]; dup {
			continue
		}
		rel := pageImageName(task, c.str)
		it, err := l.item(tgtText, rel)
		if err != nil {
			ds.Problems = append(ds.Problems, Problem{Table: "corpus", Row: r, Reason: err.Error()})
			continue
		}
		// Page names repeat across datasets (ViDoRe's corpus ids are
		// 0, 1, …) while each dataset has its own page root: the
		// dataset's folder makes the identity (and cache key) unique.
		it.ref = l.s("visdoc:" + task.Dir + "/" + rel)
		docs[c.str] = Candidate{Name: l.s(c.str), Item: it}
		corpusOrder = append(corpusOrder, c.str)
	}

	// Qrels: positive scores only, highest score per pair, in file order.
	type judged struct {
		docs   []string
		scores map[string]float64
	}
	qrels := map[string]*judged{}
	qq, qc, qs := rt.col("query-id"), rt.col("corpus-id"), rt.col("score")
	for r := 0; r < rt.rows; r++ {
		if qq.at(r).null || qc.at(r).null || qs.at(r).null {
			ds.Problems = append(ds.Problems, Problem{Table: "qrels", Row: r, Reason: "null field"})
			continue
		}
		if !qs.at(r).isNum {
			ds.Problems = append(ds.Problems, Problem{Table: "qrels", Row: r, Reason: fmt.Sprintf("score %q is not a number", qs.at(r).str)})
			continue
		}
		if !(qs.at(r).num > 0) {
			continue
		}
		j := qrels[qq.at(r).str]
		if j == nil {
			j = &judged{scores: map[string]float64{}}
			qrels[qq.at(r).str] = j
		}
		if old, ok := j.scores[qc.at(r).str]; !ok {
			j.docs = append(j.docs, qc.at(r).str)
			j.scores[qc.at(r).str] = qs.at(r).num
		} else if qs.at(r).num > old {
			j.scores[qc.at(r).str] = qs.at(r).num
		}
	}

	qid, qtext, qlang := qt.col("query-id"), qt.col("query"), qt.col("language")
	seenQ := map[string]bool{}
	kept := 0
	for r := 0; r < qt.rows; r++ {
		if r%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if opts.Language != "" && (qlang.at(r).null || qlang.at(r).str != opts.Language) {
			continue
		}
		if opts.Limit > 0 && kept >= opts.Limit {
			break
		}
		kept++
		ds.Rows++
		fail := func(format string, a ...any) {
			ds.Problems = append(ds.Problems, Problem{Table: "queries", Row: r, Reason: fmt.Sprintf(format, a...)})
		}
		switch {
		case qid.at(r).null || qid.at(r).str == "":
			fail("query-id is empty")
			continue
		case qtext.at(r).null || strings.TrimSpace(qtext.at(r).str) == "":
			fail("empty query")
			continue
		case seenQ[qid.at(r).str]:
			fail("duplicate query-id %q", qid.at(r).str)
			continue
		}
		seenQ[qid.at(r).str] = true
		j := qrels[qid.at(r).str]
		if j == nil || len(j.docs) == 0 {
			fail("query %q has no relevant document in qrels", qid.at(r).str)
			continue
		}
		q := Query{Row: r, ID: qid.at(r).str,
			Item: Item{Text: l.s(instruct.ProcessData(instruct.VisDocQuery, qtext.at(r).str, false, false))}}
		bad := ""
		for _, d := range j.docs {
			c, ok := docs[d]
			if !ok {
				bad = fmt.Sprintf("relevant document %q is not in the corpus (or has no image)", d)
				break
			}
			q.Candidates = append(q.Candidates, c)
			q.Labels = append(q.Labels, c.Name)
			q.Rel = append(q.Rel, j.scores[d])
		}
		if bad != "" {
			fail("%s", bad)
			continue
		}
		ds.Queries = append(ds.Queries, q)
	}
	for _, id := range corpusOrder {
		ds.Corpus = append(ds.Corpus, docs[id])
	}
	return ds, nil
}

// Open loads dataset task from dataDir, picking the loader by layout:
// dataDir/<name>/ with queries+corpus+qrels is a visual-document set;
// a video task is read by LoadVideo (imageRoot is then the frame root,
// MMEB-V2's video-tasks/frames); otherwise its parquet columns decide
// between MMEB_Test_Instruct (qry_inst) and MMEB-eval V1 (qry_text).
func Open(ctx context.Context, dataDir, imageRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	dir := ""
	for _, name := range append([]string{task.Name}, reverseAliases(task.Name)...) {
		p := filepath.Join(dataDir, name)
		if _, err := os.Stat(p); err == nil {
			dir = p
			break
		}
		if _, err := os.Stat(p + ".parquet"); err == nil {
			dir = p + ".parquet"
			break
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: %s: no %s or %s.parquet under %s", ErrMissing, task.Name, task.Name, task.Name, dataDir)
	}
	if task.Modality == ModVideo {
		return LoadVideo(ctx, dir, imageRoot, task, opts)
	}
	for _, p := range []string{"queries", "queries.parquet"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			return LoadVisDoc(ctx, dir, imageRoot, task, opts)
		}
	}
	files, err := parquetFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	cols, err := parquetColumnNames(files[0])
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	switch {
	case cols["qry_inst"]:
		return LoadInstruct(ctx, dir, imageRoot, task, opts)
	case cols["qry_text"]:
		return LoadV1(ctx, dir, imageRoot, task, opts)
	}
	return nil, fmt.Errorf("%w: %s: unrecognised layout (columns %v)", ErrNoLoader, task.Name, keys(cols))
}

func reverseAliases(name string) []string {
	var out []string
	for a, n := range aliases {
		if n == name {
			out = append(out, a)
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func parquetColumnNames(file string) (map[string]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	cols := map[string]bool{}
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("corrupt parquet file: %v", p)
			}
		}()
		pf, err := openParquet(f, st.Size())
		if err != nil {
			return err
		}
		for _, p := range pf.Schema().Columns() {
			if len(p) > 0 {
				cols[p[0]] = true
			}
		}
		return nil
	}()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return cols, nil
}

// ErrMissing reports a dataset that is not present under the data directory.
var ErrMissing = errors.New("mmeb: dataset not found")

// ErrNoLoader reports a task whose source layout has no loader here.
var ErrNoLoader = errors.New("mmeb: no loader for this task")
