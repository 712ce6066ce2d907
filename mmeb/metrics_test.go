package mmeb

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"testing"
)

type golden struct {
	Tool    string `json:"tool"`
	Queries []struct {
		ID       string             `json:"id"`
		Qrels    map[string]float64 `json:"qrels"`
		Run      map[string]float64 `json:"run"`
		Measures map[string]float64 `json:"measures"`
	} `json:"queries"`
	Aggregate map[string]float64 `json:"aggregate"`
}

// closeTo allows float64 rounding only: trec_eval sums in another order
// and takes log2 from libm.
func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// TestMetricParity compares every metric, per query and averaged, with
// trec_eval (pytrec_eval via ir-measures) on random graded rankings
// written by scripts/mmeb/metric_golden.py.
func TestMetricParity(t *testing.T) {
	raw, err := os.ReadFile("testdata/metric_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Queries) < 20 {
		t.Fatalf("golden has %d queries", len(g.Queries))
	}
	var cases []Ranked
	sums := map[string]float64{}
	compared, identical := 0, 0
	for _, q := range g.Queries {
		var docs []string
		for d := range q.Run {
			docs = append(docs, d)
		}
		sort.Slice(docs, func(i, j int) bool { return q.Run[docs[i]] > q.Run[docs[j]] })
		var c Ranked
		c.Prediction = docs
		c.Rel = []float64{}
		for d, r := range q.Qrels {
			if r > 0 { // trec_eval's relevance level 1, like the reference's qrels filter
				c.Labels = append(c.Labels, d)
				c.Rel = append(c.Rel, r)
			}
		}
		cases = append(cases, c)
		got := QueryMetrics(c, DefaultKs)
		nrel := float64(len(c.Labels))
		rr := q.Measures["RR"]
		for _, k := range DefaultKs {
			want := map[string]float64{
				fmt.Sprintf("hit@%d", k):              q.Measures[fmt.Sprintf("Success@%d", k)],
				fmt.Sprintf("precision@%d", k):        q.Measures[fmt.Sprintf("P@%d", k)],
				fmt.Sprintf("recall@%d", k):           q.Measures[fmt.Sprintf("R@%d", k)],
				fmt.Sprintf("ndcg_linear@%d", k):      q.Measures[fmt.Sprintf("nDCG@%d", k)],
				fmt.Sprintf("ndcg_exponential@%d", k): q.Measures[fmt.Sprintf("nDCG_exp@%d", k)],
				fmt.Sprintf("map@%d", k):              q.Measures[fmt.Sprintf("AP@%d", k)] * nrel / math.Min(nrel, float64(k)),
			}
			if rr > 0 && math.Round(1/rr) <= float64(k) {
				want[fmt.Sprintf("mrr@%d", k)] = rr
			} else {
				want[fmt.Sprintf("mrr@%d", k)] = 0
			}
			for key, w := range want {
				if !closeTo(got[key], w) {
					t.Errorf("%s %s = %.17g, trec_eval %.17g", q.ID, key, got[key], w)
				}
				if got[key] == w {
					identical++
				}
				compared++
				sums[key] += w
			}
		}
	}
	// Averages over queries: hit, precision, recall and both NDCGs directly
	// against trec_eval's aggregate.
	agg := ComputeMetrics(cases, DefaultKs)
	for _, k := range DefaultKs {
		for ours, theirs := range map[string]string{"hit": "Success", "precision": "P", "recall": "R", "ndcg_linear": "nDCG", "ndcg_exponential": "nDCG_exp"} {
			a, b := agg[fmt.Sprintf("%s@%d", ours, k)], g.Aggregate[fmt.Sprintf("%s@%d", theirs, k)]
			if !closeTo(a, b) {
				t.Errorf("mean %s@%d = %.17g, trec_eval %.17g", ours, k, a, b)
			}
		}
		for _, m := range []string{"map", "mrr"} {
			key := fmt.Sprintf("%s@%d", m, k)
			if w := sums[key] / float64(len(g.Queries)); !closeTo(agg[key], w) {
				t.Errorf("mean %s = %.17g, from trec_eval %.17g", key, agg[key], w)
			}
		}
	}
	t.Logf("%d per-query values (%d bit-identical) and %d means agree with %s", compared, identical, 7*len(DefaultKs), g.Tool)
}

func TestMetricsEdgeCases(t *testing.T) {
	// No labels: everything 0 except recall (1), as in the reference.
	m := QueryMetrics(Ranked{Prediction: []string{"a", "b"}}, []int{1})
	for k, v := range m {
		want := 0.0
		if k == "recall@1" {
			want = 1
		}
		if v != want {
			t.Errorf("%s = %v, want %v", k, v, want)
		}
	}
	// Repeated names: precision counts distinct hits, AP counts repeats.
	m = QueryMetrics(Ranked{Prediction: []string{"a", "a", "b"}, Labels: []string{"a", "a"}}, []int{2})
	if m["precision@2"] != 0.5 || m["hit@2"] != 1 || m["map@2"] != 2 || m["mrr@2"] != 1 {
		t.Errorf("repeats: %v", m)
	}
	// Binary NDCG with two relevant docs, second at rank 3.
	m = QueryMetrics(Ranked{Prediction: []string{"a", "x", "b"}, Labels: []string{"a", "b"}}, []int{5})
	want := (1 + 1/log2Int(4)) / (1 + 1/log2Int(3))
	if m["ndcg_linear@5"] != want || m["ndcg_exponential@5"] != want {
		t.Errorf("ndcg = %v want %v", m["ndcg_linear@5"], want)
	}
}

func TestLog2Correctly(t *testing.T) {
	// Values of C's log2 (correctly rounded); math.Log2 misses 3 and 9.
	for n, want := range map[int]float64{2: 1, 3: 1.584962500721156, 5: 2.321928094887362, 9: 3.169925001442312, 10: 3.321928094887362, 11: 3.4594316186372973} {
		if got := log2Int(n); got != want {
			t.Errorf("log2(%d) = %.17g, want %.17g", n, got, want)
		}
	}
}

func TestNpMean(t *testing.T) {
	// numpy.mean([0.1]*1000) is 0.10000000000000002 (pairwise summation);
	// a plain left-to-right loop gives 0.09999999999999859.
	v := make([]float64, 1000)
	for i := range v {
		v[i] = 0.1
	}
	if got := npMean(v); got != 0.10000000000000002 {
		t.Errorf("npMean = %.17g, numpy gives 0.10000000000000002", got)
	}
	if npMean(nil) != 0 {
		t.Error("empty mean")
	}
}

func TestPyFloat(t *testing.T) {
	for v, want := range map[float64]string{1: "1.0", 0: "0.0", 0.19120000000000004: "0.19120000000000004", 1e-05: "1e-05", 0.0001: "0.0001", 123456.5: "123456.5", 1e16: "1e+16"} {
		if got := pyFloat(v); got != want {
			t.Errorf("pyFloat(%v) = %s want %s", v, got, want)
		}
	}
}
