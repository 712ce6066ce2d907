package mmeb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"sync"
)

// DefaultKs are the cutoffs the reference reports.
var DefaultKs = []int{1, 5, 10}

// Ranked is one scored query: its candidates' names, best first, and the
// names that are relevant.
type Ranked struct {
	// Prediction holds candidate names in rank order. A name may repeat
	// when a row's own candidate list repeats an item.
	Prediction []string
	// Labels are the relevant names. Duplicates count once.
	Labels []string
	// Rel, when not nil, gives each label's graded relevance (same length
	// as Labels); nil means every label has relevance 1.
	Rel []float64
}

// Metric families in the reference's output order.
var metricFamilies = []string{"hit", "ndcg_linear", "ndcg_exponential", "precision", "recall", "f1", "map", "mrr"}

// Scores maps metric keys ("hit@1", "ndcg_linear@5", …) to values. It
// marshals to JSON in the reference's key order, with floats written as
// Python's json module writes them.
type Scores map[string]float64

// ComputeMetrics computes hit, NDCG (linear and exponential gain),
// precision, recall, F1, MAP and MRR at each k, averaged over the queries,
// with the reference's definitions (src/utils/eval_utils/metrics.py):
//
//   - precision@k = |distinct relevant names in the top k| / k; recall@k
//     divides the same count by the number of relevant names; hit@k is 1
//     if the count is positive. A query without labels scores 0, except
//     recall, which is 1.
//   - AP@k adds (hits so far)/(rank) at every relevant position of the
//     top k and divides by min(#relevant, k), not by #relevant as
//     trec_eval's map_cut does. MRR@k is 1/rank of the first relevant name
//     in the top k.
//   - NDCG@k: DCG = Σ g(rel_i)/log2(i+2) over the top k, g(r) = r (linear)
//     or 2^r−1 (exponential); the ideal ranks the labels' relevances in
//     decreasing order. Without graded relevance every label has rel 1.
//
// Means use numpy's pairwise summation, so the values equal the
// reference's to the last bit. One deliberate difference: the reference
// de-duplicates labels through a Python set before pairing them with their
// graded relevances, which scrambles the pairing when labels and grades
// are not all equal; here every label keeps its own grade (the highest,
// if it repeats).
func ComputeMetrics(cases []Ranked, ks []int) Scores {
	if len(ks) == 0 {
		ks = DefaultKs
	}
	ks = append([]int(nil), ks...)
	sort.Ints(ks)
	per := map[string][]float64{}
	for _, c := range cases {
		m := queryMetrics(c, ks)
		for key, v := range m {
			per[key] = append(per[key], v)
		}
	}
	out := Scores{}
	for _, fam := range metricFamilies {
		for _, k := range ks {
			key := fam + "@" + strconv.Itoa(k)
			out[key] = npMean(per[key])
		}
	}
	return out
}

// QueryMetrics returns the metrics of one query at each k (not averaged).
func QueryMetrics(c Ranked, ks []int) Scores {
	if len(ks) == 0 {
		ks = DefaultKs
	}
	return queryMetrics(c, ks)
}

func queryMetrics(c Ranked, ks []int) Scores {
	rel := map[string]float64{}
	for i, l := range c.Labels {
		g := 1.0
		if c.Rel != nil && i < len(c.Rel) {
			g = c.Rel[i]
		}
		if old, ok := rel[l]; !ok || g > old {
			rel[l] = g
		}
	}
	nrel := len(rel)
	graded := c.Rel != nil
	var ideal []float64
	if graded {
		for _, g := range rel {
			ideal = append(ideal, g)
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(ideal)))
	}
	out := Scores{}
	for _, k := range ks {
		top := c.Prediction
		if k < len(top) {
			top = top[:k]
		}
		suffix := "@" + strconv.Itoa(k)
		// Distinct relevant names in the top k.
		seen := map[string]bool{}
		hits := 0
		for _, p := range top {
			if _, ok := rel[p]; ok && !seen[p] {
				seen[p] = true
				hits++
			}
		}
		var p, r, h float64
		if nrel > 0 && k > 0 {
			p = float64(hits) / float64(k)
			r = float64(hits) / float64(nrel)
			if hits > 0 {
				h = 1
			}
		} else if nrel == 0 {
			r = 1
		}
		f1 := 0.0
		if p+r != 0 {
			f1 = 2 * (p * r) / (p + r)
		}
		// AP and MRR walk the list as is (repeats count again).
		ap, rr := 0.0, 0.0
		if nrel > 0 {
			n := 0
			score := 0.0
			for i, name := range top {
				if _, ok := rel[name]; ok {
					n++
					score += float64(n) / (float64(i) + 1.0)
					if rr == 0 {
						rr = 1.0 / float64(i+1)
					}
				}
			}
			if n > 0 {
				ap = score / float64(min(nrel, k))
			}
		}
		// NDCG.
		gains := make([]float64, len(top))
		for i, name := range top {
			if g, ok := rel[name]; ok {
				gains[i] = g
			}
		}
		var idealK []float64
		if graded {
			idealK = ideal
			if k < len(idealK) {
				idealK = idealK[:k]
			}
		} else {
			idealK = make([]float64, min(nrel, k))
			for i := range idealK {
				idealK[i] = 1
			}
		}
		out["hit"+suffix] = h
		out["precision"+suffix] = p
		out["recall"+suffix] = r
		out["f1"+suffix] = f1
		out["map"+suffix] = ap
		out["mrr"+suffix] = rr
		out["ndcg_linear"+suffix] = ndcg(gains, idealK, false)
		out["ndcg_exponential"+suffix] = ndcg(gains, idealK, true)
	}
	return out
}

func ndcg(gains, ideal []float64, exponential bool) float64 {
	dcg := func(g []float64) float64 {
		// Python's sum(): left to right from 0.
		s := 0.0
		for i, r := range g {
			if exponential {
				r = math.Pow(2, r) - 1
			}
			s += r / log2Int(i+2)
		}
		return s
	}
	d := dcg(gains)
	id := 1.0 // the reference's guard for an empty ideal list
	if len(ideal) > 0 {
		id = dcg(ideal)
	}
	if id > 0 {
		return d / id
	}
	return 0
}

var (
	log2Mu    sync.Mutex
	log2Cache = map[int]float64{}
)

// log2Int returns log2(n) correctly rounded, as C's log2 (and so numpy)
// gives it; Go's math.Log2 is off by one ulp for n = 3, 9 and others,
// which would change NDCG in the last bit.
func log2Int(n int) float64 {
	if n > 0 && n&(n-1) == 0 {
		return float64(bitsLen(n) - 1)
	}
	log2Mu.Lock()
	defer log2Mu.Unlock()
	if v, ok := log2Cache[n]; ok {
		return v
	}
	v := bigLog2(n)
	log2Cache[n] = v
	return v
}

func bitsLen(n int) int {
	l := 0
	for n > 0 {
		l++
		n >>= 1
	}
	return l
}

// bigLog2 evaluates log2(n) = e + ln(m)/ln(2), n = m·2^e with m in [1,2),
// in 200-bit arithmetic using ln(x) = 2·atanh((x−1)/(x+1)).
func bigLog2(n int) float64 {
	const prec = 200
	e := bitsLen(n) - 1
	m := new(big.Float).SetPrec(prec).SetInt64(int64(n))
	m.SetMantExp(m, -e) // m = n / 2^e
	lnm := bigLn(m, prec)
	ln2 := bigLn(new(big.Float).SetPrec(prec).SetInt64(2), prec)
	q := new(big.Float).SetPrec(prec).Quo(lnm, ln2)
	q.Add(q, new(big.Float).SetPrec(prec).SetInt64(int64(e)))
	f, _ := q.Float64()
	return f
}

func bigLn(x *big.Float, prec uint) *big.Float {
	one := new(big.Float).SetPrec(prec).SetInt64(1)
	num := new(big.Float).SetPrec(prec).Sub(x, one)
	den := new(big.Float).SetPrec(prec).Add(x, one)
	y := new(big.Float).SetPrec(prec).Quo(num, den)
	y2 := new(big.Float).SetPrec(prec).Mul(y, y)
	sum := new(big.Float).SetPrec(prec)
	term := new(big.Float).SetPrec(prec).Set(y)
	eps := new(big.Float).SetPrec(prec).SetMantExp(one, -int(prec))
	for i := int64(1); ; i += 2 {
		t := new(big.Float).SetPrec(prec).Quo(term, new(big.Float).SetPrec(prec).SetInt64(i))
		sum.Add(sum, t)
		if t.Sign() == 0 || new(big.Float).Abs(t).Cmp(eps) < 0 {
			break
		}
		term.Mul(term, y2)
	}
	return sum.Mul(sum, new(big.Float).SetPrec(prec).SetInt64(2))
}

// npMean is numpy.mean of a float64 array: pairwise summation (blocks of
// 128, eight accumulators) divided by n, 0 for an empty list as the
// reference guards it.
func npMean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return pairwiseSum(v) / float64(len(v))
}

func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		// numpy starts from -0.0 so that a sum of -0.0s stays -0.0.
		s := math.Copysign(0, -1)
		for _, x := range a {
			s += x
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-(n%8); i += 8 {
			for j := 0; j < 8; j++ {
				r[j] += a[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}

// keyOrder returns the keys of s in the reference's order: metric families
// in order, each by increasing k, then any other keys sorted.
func (s Scores) keyOrder() []string {
	type fk struct {
		fam int
		k   int
		key string
	}
	famIdx := map[string]int{}
	for i, f := range metricFamilies {
		famIdx[f] = i
	}
	var known []fk
	var other []string
	for key := range s {
		at := -1
		for i := len(key) - 1; i >= 0; i-- {
			if key[i] == '@' {
				at = i
				break
			}
		}
		if at > 0 {
			if fi, ok := famIdx[key[:at]]; ok {
				if k, err := strconv.Atoi(key[at+1:]); err == nil {
					known = append(known, fk{fi, k, key})
					continue
				}
			}
		}
		other = append(other, key)
	}
	sort.Slice(known, func(i, j int) bool {
		if known[i].fam != known[j].fam {
			return known[i].fam < known[j].fam
		}
		return known[i].k < known[j].k
	})
	sort.Strings(other)
	keys := make([]string, 0, len(s))
	for _, k := range known {
		keys = append(keys, k.key)
	}
	return append(keys, other...)
}

// MarshalJSON writes the scores in the reference's key order.
func (s Scores) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range s.keyOrder() {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.WriteString(pyFloat(s[k]))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// pyFloat formats a float as Python's repr (and json.dump) does: the
// shortest round-tripping digits, ".0" on integral values, exponent form
// below 1e-4 and from 1e16. NaN and infinities are written as Python
// writes them, which strict JSON readers reject — they never occur in
// valid scores.
func pyFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	a := math.Abs(v)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		s := strconv.FormatFloat(v, 'e', -1, 64)
		// Go writes e-05 like Python, but e+16 where Python writes e+16 too;
		// only a one-digit exponent would differ, and Go pads it already.
		return s
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	for _, c := range s {
		if c == '.' {
			return s
		}
	}
	return s + ".0"
}

// String renders the scores compactly for logs.
func (s Scores) String() string {
	var b bytes.Buffer
	for i, k := range s.keyOrder() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%.4f", k, s[k])
	}
	return b.String()
}
