package traindata

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
)

// Sampler hands out training batches in a deterministic order that can be
// checkpointed and resumed exactly.
type Sampler interface {
	// Next returns the next batch (a fresh slice the caller may keep). At
	// the end of an epoch it returns nil, io.EOF once; the call after that
	// starts the next epoch.
	Next() ([]Example, error)
	// State serialises the position, so that Restore on a sampler built
	// from the same data and settings continues with exactly the batches
	// this one would return next.
	State() ([]byte, error)
	// Restore sets the position from State's output. It fails, leaving
	// the sampler unchanged, when the state belongs to another kind of
	// sampler, other data or other settings.
	Restore(state []byte) error
}

// The RNG is PCG-DXSM from math/rand/v2 (its algorithm and binary state
// format are fixed), but bounded integers and floats are derived here
// rather than with rand.Rand's helpers, so the data order cannot change
// with a Go release.

// seedPCG derives an independent generator for (seed, epoch, stream) by
// hashing them (splitmix64), because nearby raw PCG seeds give related
// streams.
func seedPCG(seed uint64, epoch int64, stream uint64) *rand.PCG {
	a := splitmix(seed ^ splitmix(stream))
	b := splitmix(a ^ splitmix(uint64(epoch)+0x632be59bd9b4e019))
	return rand.NewPCG(a, b)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// uintN returns a uniform integer in [0, n), n > 0, without modulo bias
// (Lemire's multiply-and-reject).
func uintN(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// float01 returns a uniform float64 in [0, 1) with 53 random bits.
func float01(src *rand.PCG) float64 { return float64(src.Uint64()>>11) * 0x1p-53 }

// permutation is a uniform random permutation of 0..n-1 (Fisher–Yates).
func permutation(n int, src *rand.PCG) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(uintN(src, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// hashExamples fingerprints the data a sampler orders: which rows of which
// subsets, in which order. A state restored over other data (another cap,
// other files, rows skipped differently) would silently train on other
// batches, so Restore refuses it.
func hashExamples(h interface{ Write([]byte) (int, error) }, ex []Example) {
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(len(ex)))
	h.Write(buf[:])
	for _, e := range ex {
		h.Write([]byte(e.Subset))
		binary.LittleEndian.PutUint64(buf[:], uint64(e.Row))
		h.Write([]byte{0})
		h.Write(buf[:])
	}
}

// samplerState is the serialised form of both samplers (JSON, so a
// checkpoint stays readable and diffable).
type samplerState struct {
	Kind        string `json:"kind"`
	Fingerprint string `json:"fingerprint"`
	Epoch       int64  `json:"epoch"`
	// Uniform: the next index into the epoch's permutation.
	Pos int `json:"pos,omitempty"`
	// Interleaved: the RNG, each source's next row, which sources have
	// been exhausted this epoch, and the run in progress.
	RNG       []byte `json:"rng,omitempty"`
	Cursor    []int  `json:"cursor,omitempty"`
	Exhausted []bool `json:"exhausted,omitempty"`
	RunSource int    `json:"run_source,omitempty"`
	RunLeft   int    `json:"run_left,omitempty"`
}

const (
	kindUniform     = "traindata.Uniform/v1"
	kindInterleaved = "traindata.Interleaved/v1"
)

func decodeState(data []byte, kind, fingerprint string) (samplerState, error) {
	var st samplerState
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("traindata: bad sampler state: %w", err)
	}
	if st.Kind != kind {
		return st, fmt.Errorf("traindata: sampler state is %q, want %q", st.Kind, kind)
	}
	if st.Fingerprint != fingerprint {
		return st, errors.New("traindata: sampler state is for other data or settings (fingerprint differs)")
	}
	if st.Epoch < 0 {
		return st, fmt.Errorf("traindata: bad sampler state: epoch %d", st.Epoch)
	}
	return st, nil
}

// Uniform is V1's order: all examples as one dataset, a fresh uniform
// random permutation each epoch, cut into consecutive batches (what the HF
// Trainer's RandomSampler does over the concatenated subsets; the
// permutation itself comes from this package's RNG, not torch's). Each
// batch therefore mixes tasks at random.
type Uniform struct {
	// DropLast drops an epoch's final partial batch. The HF Trainer keeps
	// it (dataloader_drop_last=False), so the default is false. Set it
	// before the first Next; it is part of the state's fingerprint.
	DropLast bool

	examples []Example
	batch    int
	seed     uint64
	data     [32]byte
	epoch    int64
	pos      int
	perm     []int // the current epoch's order; nil until first needed
}

// NewUniform returns V1's sampler over examples (see Concat) with batches
// of batchSize, ordered by seed.
func NewUniform(examples []Example, batchSize int, seed uint64) (*Uniform, error) {
	if len(examples) == 0 {
		return nil, errors.New("traindata: NewUniform: no examples")
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("traindata: NewUniform: batch size %d", batchSize)
	}
	h := sha256.New()
	hashExamples(h, examples)
	u := &Uniform{examples: examples, batch: batchSize, seed: seed}
	copy(u.data[:], h.Sum(nil))
	return u, nil
}

// Epoch is the 0-based epoch the next batch comes from.
func (u *Uniform) Epoch() int64 { return u.epoch }

// Len is the number of batches in an epoch.
func (u *Uniform) Len() int {
	if u.DropLast {
		return len(u.examples) / u.batch
	}
	return (len(u.examples) + u.batch - 1) / u.batch
}

// Next returns the next batch, or io.EOF at the end of an epoch.
func (u *Uniform) Next() ([]Example, error) {
	n := len(u.examples)
	if u.DropLast && n < u.batch {
		// Every epoch would be empty: a trainer would spin on io.EOF.
		return nil, fmt.Errorf("traindata: %d examples are less than one batch of %d with DropLast", n, u.batch)
	}
	left := n - u.pos
	if left == 0 || (u.DropLast && left < u.batch) {
		u.epoch, u.pos, u.perm = u.epoch+1, 0, nil
		return nil, io.EOF
	}
	if u.perm == nil {
		u.perm = permutation(n, seedPCG(u.seed, u.epoch, 1))
	}
	k := min(u.batch, left)
	out := make([]Example, k)
	for i := range out {
		out[i] = u.examples[u.perm[u.pos+i]]
	}
	u.pos += k
	return out, nil
}

// fingerprint identifies the settings and data a Uniform state belongs to.
func (u *Uniform) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%d|%t|", kindUniform, u.batch, u.seed, u.DropLast)
	h.Write(u.data[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// State serialises the epoch and position: the permutation is a function
// of (seed, epoch), so it is recomputed, not stored.
func (u *Uniform) State() ([]byte, error) {
	return json.Marshal(samplerState{Kind: kindUniform, Fingerprint: u.fingerprint(), Epoch: u.epoch, Pos: u.pos})
}

// Restore continues from a State of a Uniform over the same examples,
// batch size, seed and DropLast.
func (u *Uniform) Restore(data []byte) error {
	st, err := decodeState(data, kindUniform, u.fingerprint())
	if err != nil {
		return err
	}
	if st.Pos < 0 || st.Pos > len(u.examples) {
		return fmt.Errorf("traindata: bad sampler state: position %d of %d", st.Pos, len(u.examples))
	}
	u.epoch, u.pos, u.perm = st.Epoch, st.Pos, nil
	return nil
}

// Source is one input of the V2 mixture: a subset's examples, used in
// stored order, and its mixture weight (the yaml's weight).
type Source struct {
	Name     string
	Weight   float64
	Examples []Example
}

// Interleaved is V2's order. The epoch's example stream is built run by
// run: draw a source with probability Weight/ΣWeight, then take
// Interleave consecutive examples from it in stored order (a homogeneous
// sub-batch). A source that runs out is marked exhausted and restarts from
// its first example (oversampling, HF's all_exhausted strategy); the stream
// ends, possibly inside a run, as soon as every source has been exhausted
// at least once. Batches are consecutive BatchSize slices of the stream and
// the final partial batch is dropped (drop_last). So with a BatchSize that
// is a multiple of Interleave, every batch is BatchSize/Interleave
// single-source sub-batches.
//
// The draws come from this package's RNG seeded with (seed, epoch), not
// numpy's, so the order matches the reference in distribution, not bit
// for bit; each epoch draws afresh.
type Interleaved struct {
	sources    []Source
	cdf        []float64
	batch      int
	interleave int
	seed       uint64
	data       [32]byte

	epoch     int64
	rng       *rand.PCG
	cursor    []int
	exhausted []bool
	runSrc    int
	runLeft   int
}

// NewInterleaved returns V2's sampler. Weights must be positive and
// finite (a zero-weight source could never be exhausted, so the epoch
// would never end; leave such a source out instead), sources non-empty, and
// their examples together at least one batch. interleave < 1 means 1:
// sources interleaved example by example, as plain interleave_datasets
// does.
func NewInterleaved(sources []Source, batchSize, interleave int, seed uint64) (*Interleaved, error) {
	if len(sources) == 0 {
		return nil, errors.New("traindata: NewInterleaved: no sources")
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("traindata: NewInterleaved: batch size %d", batchSize)
	}
	interleave = max(interleave, 1)
	total, n := 0.0, 0
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%d|%d|%d|", kindInterleaved, batchSize, interleave, seed, len(sources))
	for _, s := range sources {
		if !(s.Weight > 0) || math.IsInf(s.Weight, 0) {
			return nil, fmt.Errorf("traindata: NewInterleaved: source %q has weight %v; weights must be positive and finite", s.Name, s.Weight)
		}
		if len(s.Examples) == 0 {
			return nil, fmt.Errorf("traindata: NewInterleaved: source %q has no examples", s.Name)
		}
		total += s.Weight
		n += len(s.Examples)
		fmt.Fprintf(h, "%q|%x|", s.Name, math.Float64bits(s.Weight))
		hashExamples(h, s.Examples)
	}
	if n < batchSize {
		return nil, fmt.Errorf("traindata: NewInterleaved: %d examples are less than one batch of %d", n, batchSize)
	}
	// The CDF as numpy's choice builds it: cumulative sums over the total.
	cdf := make([]float64, len(sources))
	acc := 0.0
	for i, s := range sources {
		acc += s.Weight
		cdf[i] = acc / total
	}
	cdf[len(cdf)-1] = 1 // u < 1 always finds a source despite rounding
	s := &Interleaved{sources: sources, cdf: cdf, batch: batchSize, interleave: interleave, seed: seed}
	copy(s.data[:], h.Sum(nil))
	s.startEpoch(0)
	return s, nil
}

// startEpoch resets the stream for epoch e: a fresh RNG, every source at
// its first row, none exhausted, no run in progress.
func (s *Interleaved) startEpoch(e int64) {
	s.epoch = e
	s.rng = seedPCG(s.seed, e, 2)
	s.cursor = make([]int, len(s.sources))
	s.exhausted = make([]bool, len(s.sources))
	s.runSrc, s.runLeft = 0, 0
}

// Epoch is the 0-based epoch the next batch comes from.
func (s *Interleaved) Epoch() int64 { return s.epoch }

// draw picks a source: the first whose CDF exceeds a uniform u (numpy's
// searchsorted(side="right")).
func (s *Interleaved) draw() int {
	u := float01(s.rng)
	for i, c := range s.cdf {
		if u < c {
			return i
		}
	}
	return len(s.cdf) - 1
}

// next returns the stream's next example; false at the end of the epoch.
func (s *Interleaved) next() (Example, bool) {
	done := true
	for _, x := range s.exhausted {
		done = done && x
	}
	if done {
		return Example{}, false
	}
	if s.runLeft == 0 {
		s.runSrc, s.runLeft = s.draw(), s.interleave
	}
	i := s.runSrc
	ex := s.sources[i].Examples[s.cursor[i]]
	s.cursor[i]++
	s.runLeft--
	if s.cursor[i] == len(s.sources[i].Examples) {
		s.exhausted[i], s.cursor[i] = true, 0
	}
	return ex, true
}

// Next returns the next batch, or io.EOF at the end of an epoch (the
// partial batch the stream ends with is dropped).
func (s *Interleaved) Next() ([]Example, error) {
	out := make([]Example, 0, s.batch)
	for len(out) < s.batch {
		ex, ok := s.next()
		if !ok {
			s.startEpoch(s.epoch + 1)
			return nil, io.EOF
		}
		out = append(out, ex)
	}
	return out, nil
}

// fingerprint identifies the settings and data an Interleaved state
// belongs to (hashed once in NewInterleaved).
func (s *Interleaved) fingerprint() string { return hex.EncodeToString(s.data[:16]) }

// State serialises the RNG, the per-source cursors, the exhausted flags
// and the run in progress.
func (s *Interleaved) State() ([]byte, error) {
	rng, err := s.rng.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(samplerState{Kind: kindInterleaved, Fingerprint: s.fingerprint(), Epoch: s.epoch,
		RNG: rng, Cursor: s.cursor, Exhausted: s.exhausted, RunSource: s.runSrc, RunLeft: s.runLeft})
}

// Restore continues from a State of an Interleaved over the same sources
// (names, weights, examples), batch size, interleave and seed.
func (s *Interleaved) Restore(data []byte) error {
	st, err := decodeState(data, kindInterleaved, s.fingerprint())
	if err != nil {
		return err
	}
	n := len(s.sources)
	if len(st.Cursor) != n || len(st.Exhausted) != n {
		return fmt.Errorf("traindata: bad sampler state: %d cursors, %d flags for %d sources", len(st.Cursor), len(st.Exhausted), n)
	}
	for i, c := range st.Cursor {
		if c < 0 || c >= len(s.sources[i].Examples) {
			return fmt.Errorf("traindata: bad sampler state: cursor %d of source %q (%d examples)", c, s.sources[i].Name, len(s.sources[i].Examples))
		}
	}
	if st.RunSource < 0 || st.RunSource >= n || st.RunLeft < 0 || st.RunLeft > s.interleave {
		return fmt.Errorf("traindata: bad sampler state: run of %d from source %d", st.RunLeft, st.RunSource)
	}
	rng := &rand.PCG{}
	if err := rng.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("traindata: bad sampler state: rng: %w", err)
	}
	s.epoch, s.rng, s.cursor, s.exhausted = st.Epoch, rng, st.Cursor, st.Exhausted
	s.runSrc, s.runLeft = st.RunSource, st.RunLeft
	return nil
}

// Both samplers satisfy Sampler.
var (
	_ Sampler = (*Uniform)(nil)
	_ Sampler = (*Interleaved)(nil)
)
