// Package layers holds the graph building blocks every model family of the
// encoder shares: linear layers with their LoRA/DoRA branch, RMSNorm and
// LayerNorm, rotary embeddings, attention (grouped-query, masked or through
// the backend's fused op), activations and MLPs, and the loading of
// checkpoint weights into a GoMLX store by their checkpoint names.
//
// A family's graph code reads weights by the checkpoint's own tensor names
// (model.layers.0.self_attn.q_proj.weight), so the checkpoint and the code
// can be read side by side. Like GoMLX's own layers, functions here panic
// on inconsistent shapes; a family's public entry points recover and return
// errors.
package layers
