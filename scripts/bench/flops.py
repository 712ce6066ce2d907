"""FLOP counts of the Qwen2-VL embedding forward (multiply-add = 2 FLOP),
shared by the CPU benchmark report and the GPU one."""


def lm_flops(c, batch, seq):
    """Multiply-adds x2 of the decoder over batch x seq tokens (no LM head)."""
    h, inter, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    nh, kv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = h // nh
    per_tok = h * nh * hd + 2 * h * kv * hd + nh * hd * h + 3 * h * inter
    attn = 2 * batch * nh * seq * seq * hd  # QK^T and PV (full square, as both implementations compute it)
    return L * (2 * batch * seq * per_tok + 2 * attn)


def vision_flops(c, patches, attended=None):
    """The vision tower over `patches` patches, each attending to `attended`
    patches: its own image's (per-image attention) or, by default, every
    patch of the batch (one attention with a block-diagonal mask)."""
    attended = attended or patches
    v = c["vision_config"]
    e, depth, mlp = v["embed_dim"], v["depth"], v["mlp_ratio"]
    nh = v["num_heads"]
    hd = e // nh
    pd = 3 * v["temporal_patch_size"] * v["patch_size"] ** 2
    m2 = v["spatial_merge_size"] ** 2
    blk = 2 * patches * (3 * e * e + e * e + 2 * e * e * mlp) + 2 * 2 * nh * patches * attended * hd
    merger = 2 * (patches // m2) * (e * m2 * e * m2 + e * m2 * c["hidden_size"])
    return 2 * patches * pd * e + depth * blk + merger
