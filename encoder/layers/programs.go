package layers

import (
	"fmt"
	"sync"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Programs is a model's cache of compiled inference programs, one per kind
// (with or without the vision tower, ...), each built on first use and
// caching up to maxCache input shapes. Run holds a lock: one program runs
// at a time per model, as the weights are shared.
type Programs[K comparable] struct {
	backend  compute.Backend
	store    *model.Store
	maxCache int
	build    func(kind K) func(scope *model.Scope, in []*Node) []*Node

	mu    sync.Mutex
	execs map[K]*model.Exec
}

// NewPrograms makes a cache whose program of a kind is build(kind)'s graph.
// maxCache <= 0 means 32 shapes per program.
func NewPrograms[K comparable](backend compute.Backend, store *model.Store, maxCache int, build func(kind K) func(scope *model.Scope, in []*Node) []*Node) *Programs[K] {
	if maxCache <= 0 {
		maxCache = 32
	}
	return &Programs[K]{backend: backend, store: store, maxCache: maxCache, build: build, execs: map[K]*model.Exec{}}
}

// Refresh drops every compiled program; call it after weights change (on
// backends that fold weights into programs as constants, programs compiled
// before would keep the old values).
func (p *Programs[K]) Refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.execs {
		e.Finalize()
	}
	p.execs = map[K]*model.Exec{}
}

// Run executes the program of a kind on args.
func (p *Programs[K]) Run(kind K, args ...any) ([]*tensors.Tensor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.execs[kind]
	if e == nil {
		var err error
		if e, err = model.NewExec(p.backend, p.store, p.build(kind)); err != nil {
			return nil, err
		}
		e.SetMaxCache(p.maxCache)
		p.execs[kind] = e
	}
	return e.Exec(args...)
}

// Pooled converts a program's two outputs, hidden states and embeddings
// [B, hidden] float32, to slices and frees the tensors.
func Pooled(res []*tensors.Tensor) (hidden, emb [][]float32, err error) {
	if len(res) != 2 {
		return nil, nil, fmt.Errorf("program returned %d outputs, want 2", len(res))
	}
	defer func() {
		for _, r := range res {
			r.MustFinalizeAll()
		}
	}()
	h, ok1 := res[0].Value().([][]float32)
	e, ok2 := res[1].Value().([][]float32)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("program outputs are %s and %s, want float32 [B, hidden]", res[0].Shape(), res[1].Shape())
	}
	return h, e, nil
}
