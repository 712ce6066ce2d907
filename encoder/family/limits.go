package family

import (
	"errors"
	"fmt"
)

// LengthPolicy says what becomes of an input longer than the token limit.
type LengthPolicy int

const (
	// TruncateText cuts a text-only input to the limit, keeping its first
	// tokens, as the reference's tokenizer call with truncation=True does;
	// an input with images or videos, whose visual tokens cannot be cut,
	// fails with ErrTooLong (the reference does not truncate those either).
	TruncateText LengthPolicy = iota
	// FailLong fails every input over the limit with ErrTooLong.
	FailLong
)

// ErrTooLong reports an input over the token limit (WithMaxTokens).
var ErrTooLong = errors.New("input over the token limit")

// ErrOverBudget reports a single input whose forward pass would need more
// activation memory than the budget (WithMemoryBudget).
var ErrOverBudget = errors.New("input over the memory budget")

// Fit applies the length policy to a text-only prompt's token ids (prompts
// with visual tokens go through Limit.Visual: those are never cut).
func Fit(ids []int, limit int, p LengthPolicy) ([]int, error) {
	if limit <= 0 || len(ids) <= limit {
		return ids, nil
	}
	if p == TruncateText {
		return ids[:limit], nil
	}
	return nil, fmt.Errorf("%w: %d text tokens, over the limit of %d (WithMaxTokens; the TruncateText policy cuts them)", ErrTooLong, len(ids), limit)
}

// DecoderActivationBytes estimates the peak activation memory of a
// decoder's forward pass over rows x seq tokens in float32: the attention
// scores, their mask and softmax ([rows, heads, seq, seq] each, materialised
// by the backends), plus a layer's hidden, projection and MLP activations.
// It is a guard, not an allocator: within a factor of about two.
func DecoderActivationBytes(rows, seq, heads, hidden, intermediate int) int64 {
	r, s := int64(rows), int64(seq)
	scores := 3 * r * int64(heads) * s * s
	layer := r * s * int64(6*hidden+3*intermediate)
	return 4 * (scores + layer)
}

// Limit is the token limit and policy a family's Prepare applies; families
// embed it in their Backbone.
type Limit struct {
	Max    int
	Policy LengthPolicy
}

// NewLimit is the limit of o, or modelMax (config.json's
// max_position_embeddings) when o sets none.
func NewLimit(o Options, modelMax int) Limit {
	l := Limit{Max: o.MaxTokens, Policy: o.Length}
	if l.Max <= 0 {
		l.Max = modelMax
	}
	return l
}

// MaxTokens implements Model.
func (l Limit) MaxTokens() int { return l.Max }

// Text fits a text-only prompt's ids to the limit (Fit).
func (l Limit) Text(ids []int) ([]int, error) { return Fit(ids, l.Max, l.Policy) }

// Visual checks a prompt with images or videos of n tokens in all.
func (l Limit) Visual(n int) error {
	if l.Max > 0 && n > l.Max {
		return fmt.Errorf("%w: %d text and visual tokens (visual tokens cannot be truncated), over the limit of %d (WithMaxTokens)", ErrTooLong, n, l.Max)
	}
	return nil
}
