package loss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// An independent float64 implementation of the loss with closed-form
// gradients, written with plain loops from the formulas in docs/loss.md.
// It recomputes labels on its own rather than calling Labels.

// refShard is one device's rows (neg may be nil).
type refShard struct{ q, t, neg [][]float64 }

// refOut holds the loss and its gradients, per shard like the inputs.
type refOut struct {
	loss      float64
	gq, gt    [][][]float64
	gneg      [][][]float64
	gLogTau   float64 // ∂L/∂log τ (τ unclamped)
	numQuery  int
	numTarget int
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// refRow is −log softmax(s/τ)[p] over the kept entries, with ∂/∂s and ∂/∂log τ.
func refRow(s []float64, p int, tau float64, mask FalseNegativeMask) (loss float64, ds []float64, dLogTau float64) {
	keep := make([]bool, len(s))
	for j := range s {
		switch {
		case j == p:
			keep[j] = true
		case mask.Mode == MaskRatio:
			keep[j] = !(s[j] > mask.Ratio*s[p])
		case mask.Mode == MaskMargin:
			keep[j] = !(s[j] > s[p]-mask.Margin)
		default:
			keep[j] = true
		}
	}
	m := math.Inf(-1)
	for j := range s {
		if keep[j] {
			m = math.Max(m, s[j]/tau)
		}
	}
	z := 0.0
	for j := range s {
		if keep[j] {
			z += math.Exp(s[j]/tau - m)
		}
	}
	loss = math.Log(z) - (s[p]/tau - m)
	ds = make([]float64, len(s))
	for j := range s {
		dl := 0.0
		if keep[j] {
			dl = math.Exp(s[j]/tau-m) / z
		}
		if j == p {
			dl -= 1
		}
		ds[j] = dl / tau
		dLogTau -= dl * s[j] / tau
	}
	return loss, ds, dLogTau
}

// refLoss computes the loss over the concatenated shards, times scale.
func refLoss(shards []refShard, tau float64, symmetric bool, mask FalseNegativeMask, scale float64) refOut {
	var Q, C [][]float64
	var labels []int
	off := 0
	for _, sh := range shards {
		k := len(sh.t) / len(sh.q)
		for i := range sh.q {
			labels = append(labels, off+i*k)
		}
		Q = append(Q, sh.q...)
		C = append(C, sh.t...)
		C = append(C, sh.neg...)
		off += len(sh.t) + len(sh.neg)
	}
	n, m := len(Q), len(C)
	S := make([][]float64, n)
	dS := make([][]float64, n)
	for i := range S {
		S[i] = make([]float64, m)
		dS[i] = make([]float64, m)
		for j := range S[i] {
			S[i][j] = dot(Q[i], C[j])
		}
	}
	w := scale / float64(n)
	if symmetric {
		w /= 2
	}
	var out refOut
	for i := 0; i < n; i++ {
		l, ds, dt := refRow(S[i], labels[i], tau, mask)
		out.loss += w * l
		out.gLogTau += w * dt
		for j := range ds {
			dS[i][j] += w * ds[j]
		}
	}
	if symmetric {
		for a := 0; a < n; a++ {
			col := make([]float64, n)
			for j := range col {
				col[j] = S[j][labels[a]]
			}
			l, ds, dt := refRow(col, a, tau, mask)
			out.loss += w * l
			out.gLogTau += w * dt
			for j := range ds {
				dS[j][labels[a]] += w * ds[j]
			}
		}
	}
	d := len(Q[0])
	gQ := zeros(n, d)
	gC := zeros(m, d)
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			for x := 0; x < d; x++ {
				gQ[i][x] += dS[i][j] * C[j][x]
				gC[j][x] += dS[i][j] * Q[i][x]
			}
		}
	}
	qi, ci := 0, 0
	for _, sh := range shards {
		out.gq = append(out.gq, gQ[qi:qi+len(sh.q)])
		qi += len(sh.q)
		out.gt = append(out.gt, gC[ci:ci+len(sh.t)])
		ci += len(sh.t)
		if sh.neg != nil {
			out.gneg = append(out.gneg, gC[ci:ci+len(sh.neg)])
		} else {
			out.gneg = append(out.gneg, nil)
		}
		ci += len(sh.neg)
	}
	out.numQuery, out.numTarget = n, m
	return out
}

func zeros(r, c int) [][]float64 {
	z := make([][]float64, r)
	for i := range z {
		z[i] = make([]float64, c)
	}
	return z
}

// randRows draws rows, L2-normalised when unit (as VLM2Vec's embeddings are).
func randRows(rng *rand.Rand, n, d int, unit bool) [][]float64 {
	rows := zeros(n, d)
	for i := range rows {
		for j := range rows[i] {
			rows[i][j] = rng.NormFloat64()
		}
		if unit {
			norm := math.Sqrt(dot(rows[i], rows[i]))
			for j := range rows[i] {
				rows[i][j] /= norm
			}
		}
	}
	return rows
}

// TestReferenceFiniteDifferences checks the reference's closed-form
// gradients against central differences of its own loss, so the reference
// is trustworthy before the graph is compared to it.
func TestReferenceFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name      string
		shards    []refShard
		symmetric bool
		mask      FalseNegativeMask
	}{
		{"k1", []refShard{{q: randRows(rng, 3, 4, true), t: randRows(rng, 3, 4, true)}}, false, FalseNegativeMask{}},
		{"k3 symmetric", []refShard{{q: randRows(rng, 2, 4, true), t: randRows(rng, 6, 4, true)}}, true, FalseNegativeMask{}},
		{"negatives ratio mask", []refShard{{q: randRows(rng, 3, 4, true), t: randRows(rng, 3, 4, true), neg: randRows(rng, 4, 4, true)}}, true, FalseNegativeMask{Mode: MaskRatio, Ratio: 0.2}},
		{"two shards margin mask", []refShard{
			{q: randRows(rng, 2, 3, true), t: randRows(rng, 4, 3, true), neg: randRows(rng, 1, 3, true)},
			{q: randRows(rng, 1, 3, true), t: randRows(rng, 1, 3, true)},
		}, true, FalseNegativeMask{Mode: MaskMargin, Margin: 0.3}},
	}
	const tau, h = 0.3, 1e-6
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := refLoss(c.shards, tau, c.symmetric, c.mask, 2)
			check := func(what string, rows [][]float64, grad [][]float64) {
				for i := range rows {
					for j := range rows[i] {
						orig := rows[i][j]
						rows[i][j] = orig + h
						up := refLoss(c.shards, tau, c.symmetric, c.mask, 2).loss
						rows[i][j] = orig - h
						down := refLoss(c.shards, tau, c.symmetric, c.mask, 2).loss
						rows[i][j] = orig
						fd := (up - down) / (2 * h)
						if math.Abs(fd-grad[i][j]) > 1e-6*math.Max(1, math.Abs(fd)) {
							t.Errorf("%s[%d][%d]: closed form %.10g, finite difference %.10g", what, i, j, grad[i][j], fd)
						}
					}
				}
			}
			for r, sh := range c.shards {
				check("q", sh.q, base.gq[r])
				check("t", sh.t, base.gt[r])
				if sh.neg != nil {
					check("neg", sh.neg, base.gneg[r])
				}
			}
			lt := math.Log(tau)
			up := refLoss(c.shards, math.Exp(lt+h), c.symmetric, c.mask, 2).loss
			down := refLoss(c.shards, math.Exp(lt-h), c.symmetric, c.mask, 2).loss
			if fd := (up - down) / (2 * h); math.Abs(fd-base.gLogTau) > 1e-6 {
				t.Errorf("log τ: closed form %.10g, finite difference %.10g", base.gLogTau, fd)
			}
		})
	}
}
