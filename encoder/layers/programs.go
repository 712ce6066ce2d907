package layers

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Programs is a model's cache of compiled inference programs: per kind
// (with or without the vision tower, ...) and input shapes, one compiled
// program, built on first use. At most maxCache shapes are kept per kind;
// past that the least recently used one is dropped (and compiled again if
// it comes back), so a corpus of many shapes runs, only slower, instead
// of failing. Run holds a lock: one program runs at a time per model, as
// the weights are shared.
type Programs[K comparable] struct {
	backend  compute.Backend
	store    *model.Store
	maxCache int
	build    func(kind K) func(scope *model.Scope, in []*Node) []*Node

	mu      sync.Mutex
	execs   map[K]map[string]*cachedExec
	tick    uint64 // use counter for the LRU order
	evicted int
}

// cachedExec is one compiled program and when it last ran.
type cachedExec struct {
	exec    *model.Exec
	lastUse uint64
}

// NewPrograms makes a cache whose program of a kind is build(kind)'s graph.
// maxCache <= 0 means 32 shapes per kind.
func NewPrograms[K comparable](backend compute.Backend, store *model.Store, maxCache int, build func(kind K) func(scope *model.Scope, in []*Node) []*Node) *Programs[K] {
	if maxCache <= 0 {
		maxCache = 32
	}
	return &Programs[K]{backend: backend, store: store, maxCache: maxCache, build: build, execs: map[K]map[string]*cachedExec{}}
}

// Refresh drops every compiled program; call it after weights change (on
// backends that fold weights into programs as constants, programs compiled
// before would keep the old values).
func (p *Programs[K]) Refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, byShape := range p.execs {
		for _, c := range byShape {
			c.exec.Finalize()
		}
	}
	p.execs = map[K]map[string]*cachedExec{}
}

// Evicted reports how many compiled programs were dropped to stay within
// the cache size (each one is compiled again if its shapes come back).
func (p *Programs[K]) Evicted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evicted
}

// Run executes the program of a kind on args (tensors).
func (p *Programs[K]) Run(kind K, args ...any) ([]*tensors.Tensor, error) {
	key, err := shapeKey(args)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	byShape := p.execs[kind]
	if byShape == nil {
		byShape = map[string]*cachedExec{}
		p.execs[kind] = byShape
	}
	p.tick++
	c := byShape[key]
	if c == nil {
		if len(byShape) >= p.maxCache {
			oldest := ""
			for k, e := range byShape {
				if oldest == "" || e.lastUse < byShape[oldest].lastUse {
					oldest = k
				}
			}
			byShape[oldest].exec.Finalize()
			delete(byShape, oldest)
			p.evicted++
		}
		e, err := model.NewExec(p.backend, p.store, p.build(kind))
		if err != nil {
			return nil, err
		}
		e.SetMaxCache(1) // one shape per exec: the map above is the cache
		c = &cachedExec{exec: e}
		byShape[key] = c
	}
	c.lastUse = p.tick
	return c.exec.Exec(args...)
}

// shapeKey names the shapes and dtypes of a program's arguments.
func shapeKey(args []any) (string, error) {
	var b strings.Builder
	for i, a := range args {
		t, ok := a.(*tensors.Tensor)
		if !ok {
			return "", fmt.Errorf("program argument %d is a %T, want a tensor", i, a)
		}
		b.WriteString(t.Shape().String())
		b.WriteByte(';')
	}
	return b.String(), nil
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
