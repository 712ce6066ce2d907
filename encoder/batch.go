package encoder

import (
	"context"
	"fmt"

	"github.com/org/vlm2vec/encoder/family"
)

// run pads prepared inputs into one model batch of size rows and runs it.
// Token lengths and patch counts are padded to buckets
// (family.LengthBucket), so the number of compiled programs stays small.
//
// A running pass cannot be interrupted (the GoMLX backends have no way to
// stop a program), so when ctx ends first run returns ctx.Err() at once
// and leaves the pass to finish in the background, its result dropped.
// The next pass of this encoder waits for abandoned ones to end, so
// cancelling and retrying never stacks passes (and their memory).
func (e *Encoder) run(ctx context.Context, rows []family.Row, size int) (*family.Output, error) {
	batch, err := e.model.Assemble(rows, size)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.shapes[batch.Shape()] = true
	abandoned := e.abandoned
	e.mu.Unlock()
	if abandoned != nil {
		select {
		case <-abandoned:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	type result struct {
		out *family.Output
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := e.model.Forward(batch)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		e.mu.Lock()
		e.nAbandoned++
		if e.abandoned == nil {
			e.abandoned = make(chan struct{})
		}
		e.mu.Unlock()
		go func() {
			<-done
			e.mu.Lock()
			if e.nAbandoned--; e.nAbandoned == 0 {
				close(e.abandoned)
				e.abandoned = nil
			}
			e.mu.Unlock()
		}()
		return nil, ctx.Err()
	}
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
