package layers

import (
	"fmt"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/peft"
)

// Base is the part of a family's Model that every family shares: the
// backend, the weights, the trainable adapter once attached, and the
// compiled inference programs by kind K. A family embeds it and adds its
// config, graph and batches.
type Base[K comparable] struct {
	prefix   string
	backend  compute.Backend
	store    *model.Store
	adapter  *Adapter
	programs *Programs[K]
}

// NewBase makes a Base; prefix names the family in errors ("phi3v"), and
// build(kind) is the graph of the inference program of that kind, with two
// outputs: the pooled hidden states and the embeddings.
func NewBase[K comparable](prefix string, backend compute.Backend, store *model.Store, maxCache int, build func(kind K) func(scope *model.Scope, in []*Node) []*Node) *Base[K] {
	return &Base[K]{prefix: prefix, backend: backend, store: store, programs: NewPrograms(backend, store, maxCache, build)}
}

// Backend is the compute backend the model runs on.
func (b *Base[K]) Backend() compute.Backend { return b.backend }

// Store exposes the weights.
func (b *Base[K]) Store() *model.Store { return b.store }

// TrainableVariables lists the variables an optimizer should update.
func (b *Base[K]) TrainableVariables() []*model.Variable { return TrainableVariables(b.store) }

// SetFullFineTuning makes every weight trainable.
func (b *Base[K]) SetFullFineTuning() {
	for v := range b.store.IterVariables() {
		v.SetTrainable(true)
	}
}

// Refresh drops the inference programs; call it after weights change.
func (b *Base[K]) Refresh() error {
	b.programs.Refresh()
	return nil
}

// AdapterGraph is the attached adapter's branch for one graph (seeds [B]
// switch its dropout on), or nil without an adapter.
func (b *Base[K]) AdapterGraph(seeds *Node) *AdapterGraph {
	if b.adapter == nil {
		return nil
	}
	return b.adapter.Graph(seeds)
}

// Attach adds trainable adapter variables (see AttachAdapter); a model
// takes one adapter.
func (b *Base[K]) Attach(cfg peft.Config, from *peft.Adapter, seed uint64, o AttachOptions) error {
	if b.adapter != nil {
		return fmt.Errorf("%s: the model already has an adapter attached", b.prefix)
	}
	if o.Prefix == "" {
		o.Prefix = b.prefix
	}
	a, err := AttachAdapter(b.store, cfg, from, seed, o)
	if err != nil {
		return err
	}
	b.adapter = a
	return nil
}

// Adapter reads the trained adapter back, in PEFT's layout.
func (b *Base[K]) Adapter() (*peft.Adapter, error) {
	if b.adapter == nil {
		return nil, fmt.Errorf("%s: no adapter attached", b.prefix)
	}
	return b.adapter.Read(b.store)
}

// Run executes the inference program of a kind and returns its pooled
// hidden states and embeddings. Graph-construction panics become errors.
func (b *Base[K]) Run(kind K, args ...any) (hidden, emb [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			hidden, emb, err = nil, nil, fmt.Errorf("%s: forward failed: %v", b.prefix, r)
		}
	}()
	res, err := b.programs.Run(kind, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.prefix, err)
	}
	if hidden, emb, err = Pooled(res); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.prefix, err)
	}
	return hidden, emb, nil
}
