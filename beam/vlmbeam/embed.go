package vlmbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/org/vlm2vec/embedio"
	"github.com/org/vlm2vec/encoder"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*embedio.Row)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*embedio.Result)(nil)).Elem())
	register.Function1x1(countOne)
	register.Function2x1(sumInts)
	register.DoFn2x2[embedio.Row, int, int, embedio.Row](&groupFn{})
	register.DoFn5x1[context.Context, int, func(*embedio.Row) bool, func(embedio.Result), func(embedio.Result), error](&embedFn{})
	register.Iter1[embedio.Row]()
	register.Emitter1[embedio.Result]()
}

// Embed embeds every input row (a PCollection of embedio.Row) and returns
// the embeddings and the failures, both PCollections of embedio.Result:
// an embedding keeps its input's id; a failure has the id and the error
// text (an unreadable image, an input over Spec.MaxTokens under FailLong,
// an id that appears more than once in inputs).
//
// Inputs are counted, keyed by their batch group (embedio.Group over the
// whole collection) and grouped with a GroupByKey; each group is embedded
// in one Encoder.EmbedEach call (length-sorted batches), in id order. A
// group, not a bundle, is the unit of batching because the bits of a
// vector depend on its batch's companions: this way a pipeline's output
// does not depend on how a runner cuts bundles, on retries, or on the
// runner, and equals a `vlm2vec embed` run at the same batch size. The
// shuffle moves only the rows (ids, texts, paths), not images or vectors.
//
// Each worker process opens the encoder once, shared by the DoFn
// instances the runner creates (Setup acquires it, Teardown releases it).
// An error that is not an element's (an encoder failure, a panic) fails
// the bundle, so the runner retries it, with a fresh encoder. An invalid
// spec is reported by the workers' Setup; call Spec.Validate first to catch
// it before launching.
func Embed(s beam.Scope, spec Spec, inputs beam.PCollection) (embeddings, failures beam.PCollection) {
	s = s.Scope("vlmbeam.Embed")
	n := beam.Combine(s, sumInts, beam.ParDo(s, countOne, inputs))
	keyed := beam.ParDo(s, &groupFn{BatchSize: spec.batch()}, inputs, beam.SideInput{Input: n})
	return beam.ParDo2(s, &embedFn{Spec: spec}, beam.GroupByKey(s, keyed))
}

func countOne(embedio.Row) int { return 1 }

func sumInts(a, b int) int { return a + b }

// groupFn keys a row by its batch group, given the number of inputs.
type groupFn struct {
	BatchSize int `json:"batch_size"`
}

// ProcessElement returns the row's group and the row.
func (f *groupFn) ProcessElement(r embedio.Row, n int) (int, embedio.Row) {
	return embedio.Group(r.ID, embedio.Groups(n, f.BatchSize)), r
}

// embedFn embeds a batch group.
type embedFn struct {
	Spec Spec `json:"spec"`

	h *handle
}

// Setup takes this worker's shared encoder, opening it on first use.
func (f *embedFn) Setup(ctx context.Context) error {
	h, err := acquire(ctx, f.Spec)
	f.h = h
	return err
}

// Teardown gives the encoder back; the last user closes it.
func (f *embedFn) Teardown(context.Context) error {
	if f.h != nil {
		f.h.release()
		f.h = nil
	}
	return nil
}

// ProcessElement embeds one group: its rows' results go to emit, or to
// fail for the rows that cannot be embedded. It returns an error (failing
// the bundle) only for what is not an element's fault.
func (f *embedFn) ProcessElement(ctx context.Context, group int, rows func(*embedio.Row) bool, emit, fail func(embedio.Result)) error {
	var all []embedio.Row
	var r embedio.Row
	count := map[string]int{}
	for rows(&r) {
		all = append(all, r)
		count[r.ID]++
	}
	uniq := all[:0:0]
	for _, r := range all {
		if c := count[r.ID]; c > 1 {
			// No copy can be told apart, so none is embedded.
			fail(embedio.Result{ID: r.ID, Error: fmt.Sprintf("id %q appears %d times in the input", r.ID, c)})
			continue
		}
		uniq = append(uniq, r)
	}
	if len(uniq) == 0 {
		return nil
	}
	res, err := f.embed(ctx, group, uniq)
	if err != nil {
		return fmt.Errorf("vlmbeam: group %d (%d inputs): %w", group, len(uniq), err)
	}
	for _, r := range res {
		if r.Error != "" {
			fail(r)
		} else {
			emit(r)
		}
	}
	return nil
}

// embed runs EmbedGroup on the shared encoder, reopening it if it was
// closed, turning a panic into an error and discarding the encoder after
// any failure (the retry gets a fresh one).
func (f *embedFn) embed(ctx context.Context, group int, rows []embedio.Row) (res []embedio.Result, err error) {
	if f.h == nil || f.h.isClosed() {
		if f.h != nil {
			f.h.release()
		}
		if f.h, err = acquire(ctx, f.Spec); err != nil {
			return nil, err
		}
	}
	h := f.h
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
		if err != nil {
			h.discard()
		}
	}()
	if beforeGroup != nil {
		if err := beforeGroup(group, h); err != nil {
			return nil, err
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return nil, errEncoderClosed
	}
	return embedio.EmbedGroup(ctx, h.enc, rows)
}

// errEncoderClosed reports a group that found its worker's encoder gone.
var errEncoderClosed = errors.New("the worker's encoder was closed")

// beforeGroup, when set (by tests), runs before each group is embedded; an
// error it returns fails the bundle, as an encoder failure would.
var beforeGroup func(group int, h *handle) error

// opens counts encoder opens in this process (tests check that workers
// open it once, not per bundle or element).
var opens atomic.Int64

// handle is one process's encoder for one spec, shared by every DoFn
// instance the runner creates in that process (a runner may run several
// bundles at once, each with its own instance: one model in memory, not
// one per instance). Encoder calls are serialised inside the encoder.
type handle struct {
	key  string
	enc  *encoder.Encoder
	refs int // guarded by pool.mu

	mu     sync.RWMutex // held for reading while embedding; discard writes
	closed bool
}

var pool = struct {
	mu sync.Mutex
	m  map[string]*handle
}{m: map[string]*handle{}}

// acquire returns the process's open encoder for spec, opening it if
// there is none.
func acquire(ctx context.Context, spec Spec) (*handle, error) {
	key, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if h := pool.m[string(key)]; h != nil && !h.isClosed() {
		h.refs++
		return h, nil
	}
	enc, err := spec.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("vlmbeam: opening %s: %w", spec.Checkpoint, err)
	}
	opens.Add(1)
	h := &handle{key: string(key), enc: enc, refs: 1}
	pool.m[h.key] = h
	return h, nil
}

// release drops one reference; the last one closes the encoder.
func (h *handle) release() {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	h.refs--
	if h.refs <= 0 {
		h.close()
		if pool.m[h.key] == h {
			delete(pool.m, h.key)
		}
	}
}

// discard closes the encoder after a failure and takes it out of the
// pool; instances still holding it reopen a fresh one on their next group.
func (h *handle) discard() {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	h.close()
	if pool.m[h.key] == h {
		delete(pool.m, h.key)
	}
}

func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		_ = h.enc.Close() // nothing to do about a failed close of a dead encoder
	}
}

func (h *handle) isClosed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}
