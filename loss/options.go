package loss

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/ml/model"
)

// DefaultTemperature is VLM2Vec's τ (its training scripts pass 0.02).
const DefaultTemperature = 0.02

// TemperatureVariable is the name of the learnable temperature variable
// created in Options.TemperatureScope. It holds log τ, so τ = exp(value)
// stays positive whatever the optimizer does.
const TemperatureVariable = "log_temperature"

// MaskMode selects the false-negative masking rule.
type MaskMode int

const (
	// NoMask keeps every negative, as the reference does.
	NoMask MaskMode = iota
	// MaskRatio drops a negative whose raw score s (the dot product, before
	// dividing by τ) satisfies s > Ratio · s_pos.
	MaskRatio
	// MaskMargin drops a negative whose raw score satisfies s > s_pos − Margin.
	MaskMargin
)

// String names the mode, for logs and errors.
func (m MaskMode) String() string {
	switch m {
	case NoMask:
		return "none"
	case MaskRatio:
		return "ratio"
	case MaskMargin:
		return "margin"
	}
	return fmt.Sprintf("MaskMode(%d)", int(m))
}

// FalseNegativeMask configures false-negative masking. A masked candidate is
// removed from the softmax denominator, as if it were not in the batch. The
// positive is never masked, so every row keeps at least one term.
//
// Scores are compared before the temperature is applied, so the thresholds
// do not move when τ changes (or is learned). The rule applies to every
// candidate other than the positive: in-batch targets of other queries and
// hard negatives alike. MaskRatio assumes positive scores (L2-normalised
// embeddings with s_pos > 0); with s_pos ≤ 0 it masks more as s_pos falls,
// which is rarely wanted: prefer MaskMargin there.
type FalseNegativeMask struct {
	Mode MaskMode
	// Ratio for MaskRatio, typically 0.9–0.95 of the positive score.
	Ratio float64
	// Margin (δ ≥ 0) for MaskMargin, in raw score units (cosine units for
	// normalised embeddings).
	Margin float64
}

// Options configures the InfoNCE loss. The zero value is VLM2Vec's loss:
// τ = 0.02, query→target only, no masking.
type Options struct {
	// Temperature τ: logits are q·t/τ. Zero means DefaultTemperature. With a
	// TemperatureScope it is the initial value of the learnable τ.
	Temperature float64

	// TemperatureScope, when set, makes τ learnable: a float32 scalar
	// variable named TemperatureVariable in this scope holds log τ
	// (created on first use with log(Temperature)). Remember to mark graphs
	// that read it as training graphs on the Go backend, or they bake in the
	// value of the first compile.
	TemperatureScope *model.Scope

	// MinTemperature and MaxTemperature clamp a learnable τ (zero: no
	// bound). Outside the range the gradient to log τ is zero, as with
	// CLIP's clamped logit scale.
	MinTemperature, MaxTemperature float64

	// Symmetric adds the target→query term and averages the two:
	// L = (L_q→t + L_t→q) / 2. Each positive target is an anchor classifying
	// its query among all queries of the (global) batch.
	Symmetric bool

	// Mask configures false-negative masking (off by default).
	Mask FalseNegativeMask
}

// temperature returns the fixed τ to use (or the learnable τ's initial value).
func (o Options) temperature() float64 {
	if o.Temperature == 0 {
		return DefaultTemperature
	}
	return o.Temperature
}

// Validate reports option values that cannot work.
func (o Options) Validate() error {
	tau := o.temperature()
	if !(tau > 0) || math.IsInf(tau, 0) {
		return fmt.Errorf("loss: temperature must be positive and finite, got %g", o.Temperature)
	}
	if o.MinTemperature < 0 || o.MaxTemperature < 0 {
		return fmt.Errorf("loss: temperature bounds must be ≥ 0, got [%g, %g]", o.MinTemperature, o.MaxTemperature)
	}
	if o.MinTemperature > 0 && o.MaxTemperature > 0 && o.MinTemperature > o.MaxTemperature {
		return fmt.Errorf("loss: MinTemperature %g > MaxTemperature %g", o.MinTemperature, o.MaxTemperature)
	}
	switch o.Mask.Mode {
	case NoMask:
	case MaskRatio:
		if math.IsNaN(o.Mask.Ratio) || math.IsInf(o.Mask.Ratio, 0) {
			return fmt.Errorf("loss: mask ratio must be finite, got %g", o.Mask.Ratio)
		}
	case MaskMargin:
		if !(o.Mask.Margin >= 0) || math.IsInf(o.Mask.Margin, 0) {
			return fmt.Errorf("loss: mask margin must be finite and ≥ 0, got %g", o.Mask.Margin)
		}
	default:
		return fmt.Errorf("loss: unknown mask mode %d", int(o.Mask.Mode))
	}
	return nil
}

// LearnedTemperature reads the current τ from a scope used as
// Options.TemperatureScope (before clamping). It fails if the variable has
// not been created yet.
func LearnedTemperature(scope *model.Scope) (float64, error) {
	if scope == nil {
		return 0, fmt.Errorf("loss: nil scope")
	}
	v := scope.GetVariable(TemperatureVariable)
	if v == nil {
		return 0, fmt.Errorf("loss: no %q variable in scope %q", TemperatureVariable, scope.Scope())
	}
	t, err := v.Value()
	if err != nil {
		return 0, fmt.Errorf("loss: reading %s: %w", TemperatureVariable, err)
	}
	logTau, ok := t.Value().(float32)
	if !ok {
		return 0, fmt.Errorf("loss: %s has unexpected shape %s", TemperatureVariable, t.Shape())
	}
	return math.Exp(float64(logTau)), nil
}
