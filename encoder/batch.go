package encoder

import (
	"fmt"

	"github.com/org/vlm2vec/encoder/family"
)

// run pads prepared inputs into one model batch of size rows and runs it.
// Token lengths and patch counts are padded to buckets
// (family.LengthBucket), so the number of compiled programs stays small.
func (e *Encoder) run(rows []family.Row, size int) (*family.Output, error) {
	batch, err := e.model.Assemble(rows, size)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.shapes[batch.Shape()] = true
	e.mu.Unlock()
	return e.model.Forward(batch)
}

// Batch tokenizes and processes inputs into one padded model batch of size
// rows (>= len(inputs); filler rows are single pad tokens), with the same
// bucketing as Embed. Training code builds its chunks with it.
func (e *Encoder) Batch(inputs []Input, rows int) (family.Batch, error) {
	if rows < len(inputs) {
		return nil, fmt.Errorf("encoder: %d inputs do not fit a batch of %d", len(inputs), rows)
	}
	prepared := make([]family.Row, len(inputs))
	for i, in := range inputs {
		p, err := e.prepare(in)
		if err != nil {
			return nil, fmt.Errorf("encoder: input %d: %w", i, err)
		}
		prepared[i] = p
	}
	return e.model.Assemble(prepared, rows)
}
