// Package loss implements VLM2Vec's contrastive (InfoNCE) loss as GoMLX
// graph functions, plus the extensions users ask for: explicit hard
// negatives, a symmetric target→query term, a learnable temperature and
// false-negative masking.
//
// With zero Options, InfoNCE is the reference loss (src/loss.py
// SimpleContrastiveLoss): for q [N, d] and t [N·k, d],
//
//	L = −(1/N) Σᵢ log( exp(qᵢ·t_{i·k}/τ) / Σⱼ exp(qᵢ·tⱼ/τ) ),  τ = 0.02,
//
// computed in float32 (float64 for float64 inputs) with a log-sum-exp that
// neither overflows nor loses the loss to cancellation at large logits.
// DistributedInfoNCE is the DistributedContrastiveLoss: global batch from
// all devices, only local embeddings differentiable, loss × world size.
//
// Graph functions panic on inconsistent shapes (GoMLX's convention; an Exec
// returns the panic as an error). Compute, ComputeWithGradients and Labels
// work on host slices and return errors instead.
//
// docs/loss.md has the formulas, the options and the argument for the
// cross-device scaling.
package loss
