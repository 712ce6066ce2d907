# Stand-in for the gme_inference.py a GME release ships beside its weights.
# The Go encoder recognises a GME checkpoint (model_type qwen2_vl) by this
# file's presence; the test checkpoint carries this note, not GME's code.
