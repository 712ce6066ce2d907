package mmeb

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// quirksGolden is what CPython 3.11 and numpy 1.26.4 (scalar sort) did,
// written by scripts/mmeb/quirks_golden.py.
type quirksGolden struct {
	Strings   []string              `json:"strings"`
	Hashes    map[string][]int64    `json:"hashes"`
	LabelSets [][]string            `json:"label_sets"`
	SetOrders map[string][][]string `json:"set_orders"`
	Scores    [][]any               `json:"scores"`
	Argsort   [][]int               `json:"argsort"`
}

func readQuirksGolden(t *testing.T) quirksGolden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "quirks_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g quirksGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPyStrHashMatchesCPython(t *testing.T) {
	g := readQuirksGolden(t)
	for seedStr, hashes := range g.Hashes {
		seed, _ := strconv.ParseUint(seedStr, 10, 32)
		k0, k1 := pyHashKey(uint32(seed))
		for i, s := range g.Strings {
			if got := pyStrHash(s, k0, k1); got != hashes[i] {
				t.Errorf("PYTHONHASHSEED=%s hash(%q) = %d, CPython %d", seedStr, s, got, hashes[i])
			}
		}
	}
}

func TestPySetOrderMatchesCPython(t *testing.T) {
	g := readQuirksGolden(t)
	for seedStr, orders := range g.SetOrders {
		seed, _ := strconv.ParseUint(seedStr, 10, 32)
		for i, keys := range g.LabelSets {
			if got := pySetOrder(keys, uint32(seed)); !slices.Equal(got, orders[i]) {
				t.Errorf("PYTHONHASHSEED=%s list(set(%q)) = %q, CPython %q", seedStr, keys, got, orders[i])
			}
		}
	}
}

func TestNumpyArgsortMatchesNumpy(t *testing.T) {
	g := readQuirksGolden(t)
	for i, raw := range g.Scores {
		s := make([]float32, len(raw))
		for j, x := range raw {
			if f, ok := x.(float64); ok {
				s[j] = float32(f)
			} else {
				s[j] = float32(math.NaN())
			}
		}
		got := numpyArgsortDesc(s)
		if !slices.Equal(got, g.Argsort[i]) {
			t.Errorf("case %d (n=%d): argsort differs from numpy's\n got %v\nwant %v", i, len(s), got, g.Argsort[i])
		}
	}
}

// TestEvaluateQuirks: with the quirks on, Evaluate pairs grades in
// CPython's set order and breaks ties in numpy's order; off, it scores
// correctly. The dataset is two documents with grades 2 and 1 and a pool
// of 20 pages that all tie for the query.
func TestEvaluateQuirks(t *testing.T) {
	ds := &Dataset{Task: Task{Name: "t", Ranking: Global, Metric: MetricNDCGLin5}, Rows: 1}
	q := Query{Item: Item{Text: "query"}, Labels: []string{"p03", "p17"}, Rel: []float64{2, 1}}
	for i := 0; i < 20; i++ {
		c := Candidate{Name: fmt.Sprintf("p%02d", i), Item: Item{Text: fmt.Sprintf("page %02d", i)}}
		if i == 3 || i == 17 {
			q.Candidates = append(q.Candidates, c)
		} else {
			ds.Corpus = append(ds.Corpus, c)
		}
	}
	ds.Queries = []Query{q}
	flat := EmbedderFunc(func(_ context.Context, items []Item) ([][]float32, error) {
		out := make([][]float32, len(items))
		for i := range out {
			out[i] = []float32{1, 0}
		}
		return out, nil
	})
	eval := func(qk Quirks) *Result {
		res, err := Evaluate(context.Background(), flat, ds, Options{Quirks: qk, KeepRankings: 20})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Correct: the pool order is p03, p17, then the corpus; ties keep it.
	if got := eval(Quirks{}).Scores["ndcg_linear@5"]; got != 1 {
		t.Errorf("correct scoring: ndcg_linear@5 %v, want 1", got)
	}
	// numpy's order of 20 equal scores.
	pool := append([]string{"p03", "p17"}, func() (n []string) {
		for _, c := range ds.Corpus {
			n = append(n, c.Name)
		}
		return
	}()...)
	want := []string{}
	for _, i := range numpyArgsortDesc(make([]float32, 20)) {
		want = append(want, pool[i])
	}
	if got := eval(Quirks{NumpyTies: true}).Rankings[0]; !slices.Equal(got, want) {
		t.Errorf("numpy ties: ranking %v, want %v", got, want)
	}
	// Set order: some seeds swap the grades, which lowers NDCG.
	swapped, kept := 0, 0
	for seed := uint32(0); seed < 16; seed++ {
		got := eval(Quirks{LabelSetOrder: true, PythonHashSeed: seed}).Scores["ndcg_linear@5"]
		order := pySetOrder(q.Labels, seed)
		switch {
		case order[0] == "p03" && got == 1:
			kept++
		case order[0] == "p17" && math.Abs(got-(1+2/math.Log2(3))/(2+1/math.Log2(3))) < 1e-12:
			swapped++
		default:
			t.Errorf("seed %d: set order %v, ndcg_linear@5 %v", seed, order, got)
		}
	}
	if swapped == 0 || kept == 0 {
		t.Errorf("over 16 seeds the grades were swapped %d times and kept %d: the quirk is not exercised", swapped, kept)
	}
}
