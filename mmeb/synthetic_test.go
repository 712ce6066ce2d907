package mmeb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// The synthetic benchmark written by scripts/mmeb/make_synthetic.py.
const synth = "testdata/synthetic"

func loadSynth(t testing.TB, layout, name string) *Dataset {
	t.Helper()
	tk := mustTask(t, name)
	root := filepath.Join(synth, "images")
	switch layout {
	case "visdoc":
		root = filepath.Join(synth, "visdoc-images", tk.Dir)
	case "video":
		root = filepath.Join(synth, "frames")
	}
	ds, err := Open(context.Background(), filepath.Join(synth, layout), root, tk, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestLoadV1ReportsMalformedRows(t *testing.T) {
	ds := loadSynth(t, "MMEB-eval", "VOC2007")
	if ds.Rows != 22 || len(ds.Queries) != 20 || len(ds.Problems) != 2 {
		t.Fatalf("rows %d, queries %d, problems %v", ds.Rows, len(ds.Queries), ds.Problems)
	}
	if p := ds.Problems[0]; p.Row != 20 || !strings.Contains(p.Reason, "tgt_text has 2 entries but tgt_img_path 1") {
		t.Errorf("problem 0: %v", p)
	}
	if p := ds.Problems[1]; p.Row != 21 || !strings.Contains(p.Reason, `missing image "VOC2007/missing.png"`) {
		t.Errorf("problem 1: %v", p)
	}
	q := ds.Queries[0]
	if q.Item.Text != "<|image_1|>\nIdentify the object shown in the image\n" || !strings.HasSuffix(q.Item.Image, "images/VOC2007/q0000.png") {
		t.Errorf("query 0: %+v", q.Item)
	}
	if len(q.Candidates) != 6 || q.Candidates[0].Item.Text != "red" || q.Labels[0] != q.Candidates[0].Name {
		t.Errorf("candidates: %+v", q.Candidates)
	}
	// list<item> files (older writers) read the same.
	if ds := loadSynth(t, "MMEB-eval", "OK-VQA"); len(ds.Queries) != 20 || len(ds.Queries[3].Candidates) != 6 {
		t.Errorf("OK-VQA: %d queries", len(ds.Queries))
	}
	// Limit keeps the first rows.
	tk := mustTask(t, "VOC2007")
	ds, err := LoadV1(context.Background(), filepath.Join(synth, "MMEB-eval", "VOC2007"), filepath.Join(synth, "images"), tk, LoadOptions{Limit: 5})
	if err != nil || ds.Rows != 5 || len(ds.Queries) != 5 {
		t.Errorf("limit: %v %v", ds, err)
	}
}

// V2's rewrite of MMEB_Test_Instruct must give the V1 bytes.
func TestInstructMatchesV1(t *testing.T) {
	for _, name := range []string{"VOC2007", "OK-VQA", "MSCOCO_t2i", "RefCOCO"} {
		v1 := loadSynth(t, "MMEB-eval", name)
		v2 := loadSynth(t, "MMEB_Test_Instruct", name)
		if len(v2.Queries) != 20 || len(v2.Problems) != 0 {
			t.Fatalf("%s: %d queries, %v", name, len(v2.Queries), v2.Problems)
		}
		for i, q := range v2.Queries {
			a := v1.Queries[i]
			if q.Item.Text != a.Item.Text || q.Item.Image != a.Item.Image {
				t.Errorf("%s row %d: V2 query %q / %q, V1 %q / %q", name, i, q.Item.Text, q.Item.Image, a.Item.Text, a.Item.Image)
			}
			for j, c := range q.Candidates {
				want := a.Candidates[j].Item.Text
				if name == "RefCOCO" {
					// V2's i2i/VG parser drops the trailing "\n" of bare image
					// targets; kept as the reference does it.
					want = strings.TrimSuffix(want, "\n")
				}
				if c.Item.Text != want || c.Item.Image != a.Candidates[j].Item.Image {
					t.Errorf("%s row %d cand %d: V2 %q, V1 %q", name, i, j, c.Item.Text, a.Candidates[j].Item.Text)
				}
			}
		}
	}
}

func readExpected(t *testing.T) map[string]map[string]float64 {
	raw, err := os.ReadFile(filepath.Join(synth, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for ds, kv := range m {
		out[ds] = map[string]float64{}
		for k, v := range kv {
			if f, ok := v.(float64); ok {
				out[ds][k] = f
			}
		}
	}
	return out
}

// TestSyntheticEndToEnd evaluates every synthetic dataset with the
// trivial embedder and checks the closed-form scores: a row is a hit at 1
// when its query names its ground truth's colour ("match") or a colour no
// candidate has ("tie": all scores equal, the first candidate wins), and
// the ground truth comes second when the query names another candidate's
// colour ("wrong").
func TestSyntheticEndToEnd(t *testing.T) {
	exp := readExpected(t)
	// Closed forms, restated here so the test does not only trust the
	// generator: match+tie over well-formed rows.
	closed := map[string]map[string]float64{
		"VOC2007":    {"hit@1": (10 + 5) / 20.0, "mrr@10": (15 + 5*0.5) / 20, "hit@5": 1},
		"OK-VQA":     {"hit@1": (8 + 4) / 20.0, "mrr@10": (12 + 8*0.5) / 20, "hit@5": 1},
		"MSCOCO_t2i": {"hit@1": (5 + 5) / 20.0, "mrr@10": (10 + 10*0.5) / 20, "hit@5": 1},
		"RefCOCO":    {"hit@1": (12 + 4) / 20.0, "mrr@10": (16 + 4*0.5) / 20, "hit@5": 1},
		// 7 pages found first; 2 queries whose page comes 8th in pool order.
		"ViDoRe_arxivqa": {"hit@1": 7 / 9.0, "ndcg_linear@5": 7 / 9.0, "ndcg_linear@10": (7 + 2/math.Log2(9)) / 9, "mrr@10": (7 + 2.0/8) / 9, "recall@10": 1},
		"HMDB51":         {"hit@1": 8 / 12.0},
	}
	emb := &ColorWordEmbedder{}
	layouts := map[string][]string{
		"MMEB-eval": {"VOC2007", "OK-VQA", "MSCOCO_t2i", "RefCOCO"}, "MMEB_Test_Instruct": {"VOC2007", "OK-VQA", "MSCOCO_t2i", "RefCOCO"},
		"visdoc": {"ViDoRe_arxivqa"}, "video": {"HMDB51"},
	}
	for layout, names := range layouts {
		for _, name := range names {
			ds := loadSynth(t, layout, name)
			res, err := Evaluate(context.Background(), emb, ds, Options{BatchSize: 7})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range closed[name] {
				if got := res.Scores[k]; math.Abs(got-want) > 1e-12 {
					t.Errorf("%s/%s %s = %v, closed form %v", layout, name, k, got, want)
				}
				if g, ok := exp[name][k]; ok && math.Abs(g-want) > 1e-12 {
					t.Errorf("expected.json %s %s = %v, closed form %v", name, k, g, want)
				}
			}
			wantPred, wantData := int(exp[name]["num_pred"]), int(exp[name]["num_data"])
			if layout == "MMEB_Test_Instruct" {
				wantData = wantPred // the malformed rows are only in the V1 files
			}
			if res.NumPred != wantPred || res.NumData != wantData || len(res.Problems) != wantData-wantPred {
				t.Errorf("%s/%s: num_pred %d num_data %d problems %v", layout, name, res.NumPred, res.NumData, res.Problems)
			}
		}
	}
}

func TestVisDocProblemsAndGrades(t *testing.T) {
	ds := loadSynth(t, "visdoc", "ViDoRe_arxivqa")
	if len(ds.Queries) != 9 || len(ds.Corpus) != 8 || len(ds.Problems) != 2 {
		t.Fatalf("queries %d corpus %d problems %v", len(ds.Queries), len(ds.Corpus), ds.Problems)
	}
	if p := ds.Problems[0]; p.Table != "queries" || p.Row != 9 || !strings.Contains(p.Reason, "no relevant document") {
		t.Errorf("%v", p)
	}
	if p := ds.Problems[1]; p.Row != 10 || !strings.Contains(p.Reason, `"99" is not in the corpus`) {
		t.Errorf("%v", p)
	}
	q := ds.Queries[0]
	// Grade-0 qrels dropped, the duplicate keeps the higher grade.
	if len(q.Labels) != 1 || q.Labels[0] != "0" || q.Rel[0] != 2 {
		t.Errorf("qrels of q0: %v %v", q.Labels, q.Rel)
	}
	if q.Item.Text != "Find a document image that matches the given query: Which page is red" {
		t.Errorf("query text %q", q.Item.Text)
	}
	if c := q.Candidates[0].Item; c.Text != "<|image_1|> Understand the content of the provided document image." || !strings.HasSuffix(c.Image, "0.png") {
		t.Errorf("page %+v", c)
	}
}

func TestVisDocExtractsMissingPages(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join(synth, "visdoc"), filepath.Join(dir, "visdoc"))
	copyTree(t, filepath.Join(synth, "visdoc-images"), filepath.Join(dir, "img"))
	page := filepath.Join(dir, "img", "ViDoRe_arxivqa", "3.png")
	if err := os.Remove(page); err != nil {
		t.Fatal(err)
	}
	tk := mustTask(t, "ViDoRe_arxivqa")
	ds, err := Open(context.Background(), filepath.Join(dir, "visdoc"), filepath.Join(dir, "img", "ViDoRe_arxivqa"), tk, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(page); err != nil {
		t.Fatalf("page not extracted: %v", err)
	}
	res, err := Evaluate(context.Background(), &ColorWordEmbedder{}, ds, Options{})
	if err != nil || res.Scores["hit@1"] != 7/9.0 {
		t.Errorf("after extraction: %v %v", res.Scores["hit@1"], err)
	}
}

func TestFrames(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"frame_10.jpg", "frame_2.JPG", "frame_1.png", "notes.txt", "frame_03.jpeg"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	fr, err := LoadFrames(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fr {
		names = append(names, filepath.Base(f))
	}
	if got := strings.Join(names, ","); got != "frame_1.png,frame_2.JPG,frame_03.jpeg,frame_10.jpg" {
		t.Errorf("order %s", got)
	}
	ten := make([]string, 10)
	for i := range ten {
		ten[i] = fmt.Sprint(i)
	}
	// floor(numpy.linspace(0, 9, 8)) = 0 1 2 3 5 6 7 9
	if got := strings.Join(SampleFrames(ten, 8), " "); got != "0 1 2 3 5 6 7 9" {
		t.Errorf("sample %s", got)
	}
	if got := SampleFrames(ten[:3], 8); len(got) != 3 {
		t.Errorf("short video: %v", got)
	}
	if fr, err := LoadFrames(filepath.Join(dir, "absent")); err != nil || fr != nil {
		t.Errorf("absent folder: %v %v", fr, err)
	}
}

// Ties go to the earlier candidate, both locally and globally.
func TestTiesFirstWins(t *testing.T) {
	const z = "zero"
	emb := EmbedderFunc(func(ctx context.Context, items []Item) ([][]float32, error) {
		out := make([][]float32, len(items))
		for i := range items {
			out[i] = []float32{1, 0}
			if items[i].Text == z {
				out[i] = []float32{0, 1}
			}
		}
		return out, nil
	})
	ds := &Dataset{Task: Task{Name: "t", Ranking: Local, Metric: MetricHit1}, Rows: 2, Queries: []Query{
		{Item: Item{Text: "q"}, Candidates: []Candidate{{Name: "a", Item: Item{Text: "a"}}, {Name: "b", Item: Item{Text: "b"}}}, Labels: []string{"a"}},
		{Item: Item{Text: "q"}, Candidates: []Candidate{{Name: "c", Item: Item{Text: z}}, {Name: "d", Item: Item{Text: "d"}}}, Labels: []string{"c"}},
	}}
	res, err := Evaluate(context.Background(), emb, ds, Options{KeepRankings: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scores["hit@1"] != 0.5 || res.Rankings[0][0] != "a" || res.Rankings[1][0] != "d" {
		t.Errorf("%v %v", res.Scores["hit@1"], res.Rankings)
	}
	// The query item "q" is embedded once.
	if res.Embedded != 5 {
		t.Errorf("embedded %d items, want 5 unique", res.Embedded)
	}
}

// countingEmbedder wraps an embedder, counts items and can fail after a
// number of items (an interrupted run).
type countingEmbedder struct {
	inner     Embedder
	n         atomic.Int64
	failAfter int64
}

func (c *countingEmbedder) ModelID() string { return "counting" }

func (c *countingEmbedder) Embed(ctx context.Context, items []Item) ([][]float32, error) {
	if c.failAfter > 0 && c.n.Load()+int64(len(items)) > c.failAfter {
		return nil, errors.New("interrupted")
	}
	c.n.Add(int64(len(items)))
	return c.inner.Embed(ctx, items)
}

func TestCacheResumes(t *testing.T) {
	dir := t.TempDir()
	ds := loadSynth(t, "MMEB-eval", "MSCOCO_t2i")
	ref, err := Evaluate(context.Background(), &ColorWordEmbedder{}, ds, Options{})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(ref.Embedded)

	// First run dies part way; what was flushed survives.
	cache, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := &countingEmbedder{inner: &ColorWordEmbedder{}, failAfter: 12}
	if _, err := Evaluate(context.Background(), first, ds, Options{Cache: cache, BatchSize: 4, FlushEvery: 4}); err == nil {
		t.Fatal("interrupted run succeeded")
	}
	cache.Close()
	// A stray temporary file (a crash mid-write) and a damaged segment are ignored.
	os.WriteFile(filepath.Join(dir, ".x.emb.tmp-1"), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, "00000000000000000000-1.emb"), []byte("VLM2VEC-EMB1\n\x05\x00\x00\x00short"), 0o644)

	cache, err = OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cache.BadSegments()) != 1 || cache.Len() != 12 {
		t.Errorf("bad %v, len %d", cache.BadSegments(), cache.Len())
	}
	second := &countingEmbedder{inner: &ColorWordEmbedder{}}
	res, err := Evaluate(context.Background(), second, ds, Options{Cache: cache, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if second.n.Load() != total-12 || res.Cached != 12 || res.Scores["hit@1"] != ref.Scores["hit@1"] {
		t.Errorf("resume embedded %d of %d (cached %d), hit@1 %v vs %v", second.n.Load(), total, res.Cached, res.Scores["hit@1"], ref.Scores["hit@1"])
	}
	cache.Close()

	cache, _ = OpenCache(dir)
	defer cache.Close()
	third := &countingEmbedder{inner: &ColorWordEmbedder{}}
	res, err = Evaluate(context.Background(), third, ds, Options{Cache: cache})
	if err != nil || third.n.Load() != 0 || res.Scores["hit@1"] != ref.Scores["hit@1"] {
		t.Errorf("third run embedded %d, %v", third.n.Load(), err)
	}
	// Another model id does not see these vectors.
	if _, ok, _ := cache.Get("other-model", ds.Queries[0].Item); ok {
		t.Error("cache leaked across models")
	}
	// A cache requires a model id.
	if _, err := Evaluate(context.Background(), EmbedderFunc(func(ctx context.Context, it []Item) ([][]float32, error) { return nil, nil }), ds, Options{Cache: cache}); err == nil {
		t.Error("anonymous embedder accepted with a cache")
	}
}

func TestEvaluateRejectsBadEmbedder(t *testing.T) {
	ds := loadSynth(t, "MMEB-eval", "VOC2007")
	short := EmbedderFunc(func(ctx context.Context, items []Item) ([][]float32, error) {
		return make([][]float32, len(items)-1), nil
	})
	if _, err := Evaluate(context.Background(), short, ds, Options{}); err == nil || !strings.Contains(err.Error(), "returned") {
		t.Errorf("short batch: %v", err)
	}
	ragged := EmbedderFunc(func(ctx context.Context, items []Item) ([][]float32, error) {
		out := make([][]float32, len(items))
		for i := range out {
			out[i] = make([]float32, 1+i%2)
		}
		return out, nil
	})
	if _, err := Evaluate(context.Background(), ragged, ds, Options{}); err == nil || !strings.Contains(err.Error(), "dimension") {
		t.Errorf("ragged: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Evaluate(ctx, &ColorWordEmbedder{}, ds, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
