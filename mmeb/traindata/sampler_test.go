package traindata

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func makeExamples(subset string, n int) []Example {
	out := make([]Example, n)
	for i := range out {
		out[i] = Example{Subset: subset, Row: i, Query: subset + " q", Positive: "p"}
	}
	return out
}

// step is one Next result: a batch or an epoch end.
type step struct {
	batch []Example
	eof   bool
}

func take(t *testing.T, s Sampler, n int) []step {
	t.Helper()
	out := make([]step, n)
	for i := range out {
		b, err := s.Next()
		switch {
		case errors.Is(err, io.EOF):
			out[i].eof = true
		case err != nil:
			t.Fatal(err)
		default:
			out[i].batch = b
		}
	}
	return out
}

// checkResume runs an uninterrupted sampler for total steps, and for each
// cut k: k steps, State, Restore into a fresh sampler, the rest. The
// sequences must be identical.
func checkResume(t *testing.T, fresh func() Sampler, total int, cuts []int) {
	t.Helper()
	want := take(t, fresh(), total)
	for _, k := range cuts {
		a := fresh()
		got := take(t, a, k)
		st, err := a.State()
		if err != nil {
			t.Fatal(err)
		}
		b := fresh()
		if err := b.Restore(st); err != nil {
			t.Fatalf("cut %d: %v", k, err)
		}
		got = append(got, take(t, b, total-k)...)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cut %d: resumed run differs", k)
		}
		// The original keeps going identically too (State has no side effect).
		if rest := take(t, a, total-k); !reflect.DeepEqual(rest, want[k:]) {
			t.Fatalf("cut %d: State changed the sampler", k)
		}
	}
}

func TestUniformEpochs(t *testing.T) {
	ex := append(makeExamples("A", 7), makeExamples("B", 6)...)
	u, err := NewUniform(ex, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 4 {
		t.Fatal(u.Len())
	}
	var orders [][]Example
	for e := 0; e < 3; e++ {
		var order []Example
		for i := 0; ; i++ {
			b, err := u.Next()
			if errors.Is(err, io.EOF) {
				if i != 4 {
					t.Fatalf("epoch %d had %d batches", e, i)
				}
				break
			}
			if len(b) != 4 && !(i == 3 && len(b) == 1) {
				t.Fatalf("batch %d of size %d", i, len(b))
			}
			order = append(order, b...)
		}
		seen := map[Example]bool{}
		for _, x := range order {
			seen[x] = true
		}
		if len(order) != len(ex) || len(seen) != len(ex) {
			t.Fatalf("epoch %d is not a permutation", e)
		}
		orders = append(orders, order)
		if u.Epoch() != int64(e+1) {
			t.Fatal(u.Epoch())
		}
	}
	if reflect.DeepEqual(orders[0], orders[1]) || reflect.DeepEqual(orders[0], ex) {
		t.Fatal("epochs are not reshuffled")
	}
	// Same seed, same order; other seed, other order.
	v, _ := NewUniform(ex, 4, 1)
	w, _ := NewUniform(ex, 4, 2)
	a, b := take(t, v, 5), take(t, w, 5)
	u2, _ := NewUniform(ex, 4, 1)
	if !reflect.DeepEqual(a, take(t, u2, 5)) || reflect.DeepEqual(a, b) {
		t.Fatal("seeding is not deterministic")
	}

	u.DropLast = true
	for i := 0; ; i++ {
		_, err := u.Next()
		if errors.Is(err, io.EOF) {
			if i != 3 {
				t.Fatalf("DropLast epoch had %d batches", i)
			}
			break
		}
	}
	small, _ := NewUniform(ex[:3], 4, 1)
	small.DropLast = true
	if _, err := small.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("DropLast with less than a batch: %v", err)
	}
}

// A uniform permutation puts each example at each position equally often.
func TestUniformIsUniform(t *testing.T) {
	const n, epochs = 5, 20000
	u, _ := NewUniform(makeExamples("A", n), n, 7)
	var count [n][n]int
	for e := 0; e < epochs; e++ {
		b, err := u.Next()
		if err != nil {
			t.Fatal(err)
		}
		for pos, x := range b {
			count[x.Row][pos]++
		}
		if _, err := u.Next(); !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	p := 1.0 / n
	sd := math.Sqrt(epochs * p * (1 - p))
	for i := range count {
		for j := range count[i] {
			if d := math.Abs(float64(count[i][j]) - epochs*p); d > 5*sd {
				t.Errorf("example %d at position %d %d times, want %.0f±%.0f", i, j, count[i][j], epochs*p, sd)
			}
		}
	}
}

func TestUniformResume(t *testing.T) {
	ex := append(makeExamples("A", 11), makeExamples("B", 4)...)
	for _, drop := range []bool{false, true} {
		fresh := func() Sampler {
			u, err := NewUniform(ex, 4, 42)
			if err != nil {
				t.Fatal(err)
			}
			u.DropLast = drop
			return u
		}
		checkResume(t, fresh, 20, []int{0, 1, 3, 4, 5, 8, 13, 19})
	}
}

func TestRestoreRejects(t *testing.T) {
	ex := makeExamples("A", 10)
	u, _ := NewUniform(ex, 3, 1)
	take(t, u, 2)
	st, _ := u.State()
	want := take(t, u, 3)

	bad := map[string]Sampler{}
	bad["batch"], _ = NewUniform(ex, 4, 1)
	bad["seed"], _ = NewUniform(ex, 3, 2)
	bad["data"], _ = NewUniform(makeExamples("A", 9), 3, 1)
	bad["subset"], _ = NewUniform(makeExamples("B", 10), 3, 1)
	d, _ := NewUniform(ex, 3, 1)
	d.DropLast = true
	bad["droplast"] = d
	bad["kind"], _ = NewInterleaved([]Source{{Name: "A", Weight: 1, Examples: ex}}, 3, 1, 1)
	for name, s := range bad {
		if err := s.Restore(st); err == nil {
			t.Errorf("%s: foreign state accepted", name)
		}
	}
	for _, garbage := range []string{"", "{", `{"kind":"traindata.Uniform/v1"}`, strings.Replace(string(st), `"pos":6`, `"pos":99`, 1)} {
		v, _ := NewUniform(ex, 3, 1)
		take(t, v, 2)
		if err := v.Restore([]byte(garbage)); err == nil {
			t.Errorf("garbage %q accepted", garbage)
		}
		// A failed Restore leaves the sampler where it was.
		if got := take(t, v, 3); !reflect.DeepEqual(got, want) {
			t.Errorf("failed Restore of %q moved the sampler", garbage)
		}
	}
}

func sources() []Source {
	return []Source{
		{Name: "A", Weight: 1, Examples: makeExamples("A", 10)},
		{Name: "B", Weight: 0.5, Examples: makeExamples("B", 7)},
		{Name: "C", Weight: 2, Examples: makeExamples("C", 23)},
	}
}

// The stream of one epoch: each source's rows come in stored order,
// restarting after the end; runs are homogeneous; the epoch ends exactly
// when the last source finishes its first pass.
func TestInterleavedStream(t *testing.T) {
	src := sources()
	s, err := NewInterleaved(src, 1, 3, 5) // batch 1: nothing is dropped
	if err != nil {
		t.Fatal(err)
	}
	for epoch := 0; epoch < 5; epoch++ {
		var stream []Example
		for {
			b, err := s.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			stream = append(stream, b...)
		}
		next := map[string]int{}
		done := map[string]bool{}
		size := map[string]int{}
		for _, x := range src {
			size[x.Name] = len(x.Examples)
		}
		run := 0
		for i, x := range stream {
			if len(done) == len(src) {
				t.Fatalf("epoch %d: example %d after every source was exhausted", epoch, i)
			}
			if x.Row != next[x.Subset] {
				t.Fatalf("epoch %d: %s row %d, want %d", epoch, x.Subset, x.Row, next[x.Subset])
			}
			next[x.Subset] = (x.Row + 1) % size[x.Subset]
			if next[x.Subset] == 0 {
				done[x.Subset] = true
			}
			// Runs of 3 from one source, aligned at multiples of 3.
			if i%3 != 0 && x.Subset != stream[i-1].Subset {
				t.Fatalf("epoch %d: run broken at %d", epoch, i)
			}
			run++
		}
		if len(done) != len(src) {
			t.Fatalf("epoch %d ended before every source was exhausted: %v", epoch, done)
		}
		if s.Epoch() != int64(epoch+1) {
			t.Fatal(s.Epoch())
		}
	}
}

// Run sources are drawn with probability proportional to the weights.
// The sources are large so that epoch ends, where the run that finishes
// the last source is cut and the partial batch dropped, barely matter.
func TestInterleavedWeights(t *testing.T) {
	src := sources()
	for i := range src {
		src[i].Examples = makeExamples(src[i].Name, 5000)
	}
	const interleave = 2
	s, err := NewInterleaved(src, 8, interleave, 9)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	runs := 0
	for runs < 40000 {
		b, err := s.Next()
		if errors.Is(err, io.EOF) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 8 {
			t.Fatal(len(b))
		}
		for i := 0; i < len(b); i += interleave {
			if b[i].Subset != b[i+1].Subset {
				t.Fatal("inhomogeneous run")
			}
			count[b[i].Subset]++
			runs++
		}
	}
	total := 3.5
	for _, x := range src {
		p := x.Weight / total
		sd := math.Sqrt(float64(runs) * p * (1 - p))
		if d := math.Abs(float64(count[x.Name]) - float64(runs)*p); d > 5*sd {
			t.Errorf("%s drawn %d times in %d runs, want %.0f±%.0f", x.Name, count[x.Name], runs, float64(runs)*p, sd)
		}
	}
}

func TestInterleavedDropLastAndDeterminism(t *testing.T) {
	mk := func(seed uint64) *Interleaved {
		s, err := NewInterleaved(sources(), 16, 4, seed)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := take(t, mk(3), 60), take(t, mk(3), 60), take(t, mk(4), 60)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Fatal("seeding is not deterministic")
	}
	eofs := 0
	for i, st := range a {
		if st.eof {
			eofs++
			continue
		}
		if len(st.batch) != 16 {
			t.Fatalf("step %d: batch of %d (drop_last)", i, len(st.batch))
		}
		for j := 0; j < 16; j += 4 {
			for k := j + 1; k < j+4; k++ {
				if st.batch[k].Subset != st.batch[j].Subset {
					t.Fatalf("step %d: sub-batch %d mixes sources", i, j/4)
				}
			}
		}
	}
	if eofs < 2 {
		t.Fatalf("only %d epoch ends in 60 steps", eofs)
	}
}

func TestInterleavedResume(t *testing.T) {
	for _, cfg := range []struct{ batch, interleave int }{{16, 4}, {5, 3}, {1, 1}, {7, 2}} {
		fresh := func() Sampler {
			s, err := NewInterleaved(sources(), cfg.batch, cfg.interleave, 11)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		checkResume(t, fresh, 40, []int{0, 1, 2, 5, 9, 17, 33, 39})
	}
}

func TestInterleavedErrors(t *testing.T) {
	ex := makeExamples("A", 4)
	for name, src := range map[string][]Source{
		"none":     nil,
		"zero":     {{Name: "A", Weight: 0, Examples: ex}},
		"negative": {{Name: "A", Weight: -1, Examples: ex}},
		"nan":      {{Name: "A", Weight: math.NaN(), Examples: ex}},
		"inf":      {{Name: "A", Weight: math.Inf(1), Examples: ex}},
		"empty":    {{Name: "A", Weight: 1, Examples: ex}, {Name: "B", Weight: 1}},
		"small":    {{Name: "A", Weight: 1, Examples: ex[:2]}},
	} {
		if _, err := NewInterleaved(src, 3, 1, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, _ := NewInterleaved([]Source{{Name: "A", Weight: 1, Examples: ex}}, 2, 2, 0)
	st, _ := s.State()
	other, _ := NewInterleaved([]Source{{Name: "A", Weight: 2, Examples: ex}}, 2, 2, 0)
	if err := other.Restore(st); err == nil {
		t.Error("state restored over other weights")
	}
	for name, mod := range map[string]func(*samplerState){
		"cursor past end":   func(x *samplerState) { x.Cursor = []int{4} },
		"cursor count":      func(x *samplerState) { x.Cursor = []int{0, 0} },
		"flag count":        func(x *samplerState) { x.Exhausted = nil },
		"rng":               func(x *samplerState) { x.RNG = []byte("AAAA") },
		"run too long":      func(x *samplerState) { x.RunLeft = 3 },
		"run source":        func(x *samplerState) { x.RunSource = 1 },
		"negative epoch":    func(x *samplerState) { x.Epoch = -1 },
		"other fingerprint": func(x *samplerState) { x.Fingerprint = "00" },
	} {
		var x samplerState
		if err := json.Unmarshal(st, &x); err != nil {
			t.Fatal(err)
		}
		mod(&x)
		data, _ := json.Marshal(x)
		if err := s.Restore(data); err == nil {
			t.Errorf("corrupt state (%s) accepted", name)
		}
	}
}
