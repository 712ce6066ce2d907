#!/usr/bin/env python3
"""GME (gme-Qwen2-VL) goldens for the Go encoder's "gme" family.

Runs GME's own inference code, the copy VLM2Vec evaluates its GME baseline
with (src/model/baseline_backbone/gme/gme_inference.py of a VLM2Vec
checkout, imported from --vlm2vec, never copied here), on a tiny checkpoint
laid out as a GME release, and writes under encoder/qwen2vl/testdata:

  * tiny-gme/: a Qwen2-VL checkpoint (config.json, model.safetensors with the
    release's visual.* / model.* names, tokenizer files, preprocessor_config
    .json) plus a stand-in gme_inference.py, the file that marks a GME
    release and that the Go side detects it by;
  * images/strip_6000x20.png: an image whose aspect ratio fetch_image clamps;
  * gme_goldens.json: per case the rendered prompts, token ids, grids, the
    image sizes after fetch_image, the decoder's position ids and the
    embeddings.

What is run as is: GmeQwen2VL.get_fused_embeddings / embed / forward (the
prompt template, fetch_image's pre-resize, left padding, the decoder call
without position ids, last-token pooling, L2 normalisation) and VLM2Vec's
vendored Qwen2-VL processor. What is set differently, because the reference
needs a CUDA GPU: GmeQwen2VL.__init__ forces flash_attention_2 and bf16, so
the object is built here with the same attributes but the vendored model in
float32 with eager attention, on CPU (f32 makes the comparison exact to
float rounding; the bf16 graph is the same). Each case is also run through
transformers' own Qwen2VLForConditionalGeneration (GME's release loads that
one) and must agree with the vendored model.

Two variants of GME's use are covered (docs/encoder.md says which published
numbers each reproduces):

  * "gme": GME's own: the query instruction as the system prompt, documents
    with the default one, processor budget 256..1280 tokens (GME's
    min_image_tokens/max_image_tokens);
  * "gme-eval": VLM2Vec's MMEB evaluation: instruction=None (so always the
    default system prompt), "<instruction> <text>" as the user text
    (process_input_text for GME), budget 4..1280 tokens (VLM2Vec's
    resize_min_pixels/resize_max_pixels defaults), videos fed as their
    middle sampled frame (MMEBModel.encode_input).

    /tmp/venvgme/bin/pip install -r requirements.txt
    git -C /path/to/VLM2Vec archive HEAD src | tar -x -C /tmp/vlm2vec-src
    /tmp/venvgme/bin/python make_goldens.py --vlm2vec /tmp/vlm2vec-src
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import PIL
import torch
import transformers

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the reference forks DataLoader workers
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TESTDATA = os.path.join(REPO, "encoder", "qwen2vl", "testdata")
CKPT = "tiny-gme"
SEED = 5005
WEIGHT_STD, EMBED_STD = 0.08, 0.5
# The tokenizer of the qwen2vl goldens (a small BPE with Qwen2-VL's special
# tokens), reused as data.
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json"]

GME_PIXELS = (256 * 28 * 28, 1280 * 28 * 28)
EVAL_PIXELS = (4 * 28 * 28, 1280 * 28 * 28)
NUM_FRAMES = 8

MARKER = """# Stand-in for the gme_inference.py a GME release ships beside its weights.
# The Go encoder recognises a GME checkpoint (model_type qwen2_vl) by this
# file's presence; the test checkpoint carries this note, not GME's code.
"""


def config_dict(tok):
    ids = {t: tok.convert_tokens_to_ids(t) for t in ["<|endoftext|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]}
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "vision_token_id": ids["<|vision_pad|>"],
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "hidden_act": "silu",
        "hidden_size": 48,
        "initializer_range": 0.02,
        "intermediate_size": 112,
        "max_position_embeddings": 32768,
        "max_window_layers": 2,
        "model_type": "qwen2_vl",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 2, 2]},  # head_dim 12
        "rope_theta": 1000000.0,
        "sliding_window": 32768,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "use_sliding_window": False,
        "vision_config": {
            "depth": 2, "embed_dim": 32, "mlp_ratio": 2, "num_heads": 2, "in_chans": 3,
            "hidden_size": 48, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
        },
        "vocab_size": 960,
    }


def init_weights(model):
    # Larger than transformers' default std, so activations and attention
    # are far from degenerate and numeric mistakes show.
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if ("norm" in name or "ln_q" in name) and p.ndim == 1 and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("bias"):
                p.copy_(0.05 * r)
            elif "embed_tokens" in name:
                p.copy_(EMBED_STD * r)
            else:
                p.copy_(WEIGHT_STD * r)


def make_checkpoint(out):
    from transformers import Qwen2TokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration

    src = os.path.join(TESTDATA, "tiny-a")
    path = os.path.join(out, CKPT)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    for fn in TOKENIZER_FILES:
        shutil.copy(os.path.join(src, fn), path)
    tok = Qwen2TokenizerFast.from_pretrained(path)
    cfg = config_dict(tok)
    config = Qwen2VLConfig.from_dict(cfg)
    config._attn_implementation = "eager"
    model = Qwen2VLForConditionalGeneration(config).eval()
    init_weights(model)
    model.tie_weights()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for fn in ["model.safetensors", "generation_config.json"]:
            shutil.copyfile(os.path.join(tmp, fn), os.path.join(path, fn))
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    # As Qwen2-VL-2B-Instruct's (GME's base) preprocessor_config.json; both
    # variants override the pixel budget, so these bounds are never used.
    pp = {
        "min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
        "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor",
    }
    with open(os.path.join(path, "preprocessor_config.json"), "w") as f:
        json.dump(pp, f, indent=2)
        f.write("\n")
    with open(os.path.join(path, "gme_inference.py"), "w") as f:
        f.write(MARKER)
    return path


def make_strip(img_dir):
    # 6000x20: fetch_image rounds it to 28x6020 (ratio 215) and clamps the
    # width to 200x the height.
    x = np.arange(6000)[None, :, None]
    y = np.arange(20)[:, None, None]
    arr = np.concatenate([(x * 7 + y * 13) % 256, (x // 30 * 40) % 256 + 0 * y, 255 - (y * 12 + x % 97) % 256], -1)
    fn = "strip_6000x20.png"
    Image.fromarray(arr.astype(np.uint8), "RGB").save(os.path.join(img_dir, fn), optimize=True)
    return fn


def sample_frames(n, num):
    # VLM2Vec's process_video_frames: floor(linspace(0, n-1, num)) when there
    # are at least num frames, all of them otherwise.
    if n < num:
        return list(range(n))
    return [int(i) for i in np.floor(np.linspace(0, n - 1, num))]


class Recorder:
    """Wraps the processor and the decoder to record what the reference
    feeds them, without changing it."""

    def __init__(self, gme):
        self.gme, self.calls = gme, []
        proc, dec = gme.processor, gme.base.model
        orig_proc, orig_dec = proc.__call__, dec.forward

        def proc_call(*a, **kw):
            out = orig_proc(*a, **kw)
            self.calls.append({"texts": list(kw["text"]), "images": kw.get("images"), "inputs": out})
            return out

        def dec_forward(*a, **kw):
            self.calls[-1]["decoder_position_ids"] = kw.get("position_ids")
            return orig_dec(*a, **kw)

        gme.processor = _CallShim(proc, proc_call)
        dec.forward = dec_forward


class _CallShim:
    def __init__(self, inner, fn):
        self._inner, self._fn = inner, fn

    def __call__(self, *a, **kw):
        return self._fn(*a, **kw)

    def __getattr__(self, k):
        return getattr(self._inner, k)


def build_gme(gi, vendored_processor, model_cls, path, pixels):
    """A GmeQwen2VL with __init__'s attributes, on CPU in float32."""
    Qwen2VLProcessor, Qwen2VLImageProcessor, Qwen2TokenizerFast = vendored_processor
    size = {"shortest_edge": pixels[0], "longest_edge": pixels[1]}
    # As VLM2Vec's load_processor does for the gme backbone.
    ip = Qwen2VLImageProcessor.from_pretrained(path, size=size)
    tok = Qwen2TokenizerFast.from_pretrained(path)
    processor = Qwen2VLProcessor.from_pretrained(path, image_processor=ip, tokenizer=tok, size=size)
    config = transformers.AutoConfig.from_pretrained(path)
    config._attn_implementation = "eager"
    config.padding_side = "left"
    config.use_cache = False
    g = gi.GmeQwen2VL.__new__(gi.GmeQwen2VL)
    torch.nn.Module.__init__(g)
    g.base = model_cls.from_pretrained(path, config=config, torch_dtype=torch.float32).eval()
    g.normalize = True
    g.device = "cpu"
    g.max_length = 1800
    g.processor = processor
    g.processor.tokenizer.padding_side = "left"
    g.defualt_instruction = "You are a helpful assistant."
    g.sep = " "
    return g


def flist(t):
    return [[float(x) for x in row] for row in t.tolist()]


def run_case(g, rec, call):
    rec.calls.clear()
    emb = call(g)
    return emb, list(rec.calls)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vlm2vec", default=os.environ.get("VLM2VEC_SRC"), help="a VLM2Vec checkout (its src/ is imported)")
    ap.add_argument("--vlm2vec-commit", default="", help="recorded in the goldens")
    ap.add_argument("--out", default=TESTDATA)
    args = ap.parse_args()
    if not args.vlm2vec:
        sys.exit("--vlm2vec (or VLM2VEC_SRC) must name a VLM2Vec checkout")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    sys.path.insert(0, os.path.abspath(args.vlm2vec))
    from src.model.baseline_backbone.gme import gme_inference as gi
    from src.model.vlm_backbone.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
    from src.model.vlm_backbone.qwen2_vl.modeling_qwen2_vl import Qwen2VLForConditionalGeneration as VendoredQwen2VL
    from src.model.vlm_backbone.qwen2_vl.processing_qwen2_vl import Qwen2VLProcessor
    from src.model.vlm_backbone.qwen2_vl.tokenization_qwen2_fast import Qwen2TokenizerFast

    vendored_processor = (Qwen2VLProcessor, Qwen2VLImageProcessor, Qwen2TokenizerFast)
    with open(gi.__file__, "rb") as f:
        gme_sha = hashlib.sha256(f.read()).hexdigest()

    out = os.path.abspath(args.out)
    path = make_checkpoint(out)
    img_dir = os.path.join(out, "images")
    strip = make_strip(img_dir)

    def img(fn):
        with Image.open(os.path.join(img_dir, fn)) as im:
            return im.convert("RGB")

    def frames(clip):
        d = os.path.join(out, "videos", clip)
        files = sorted(os.listdir(d))
        return d, files

    clip = "clip9_50x38"
    clip_dir, clip_files = frames(clip)
    sampled = sample_frames(len(clip_files), NUM_FRAMES)
    middle = sampled[len(sampled) // 2]  # MMEBModel.encode_input: imgs[len(imgs) // 2]

    Q = "Find an image that matches the given text."
    F = "Retrieve an image that shows what the text describes, given this photo."
    # (id, variant, reference call, Go inputs). Go inputs name the encoder
    # Input fields; "video" is a clip directory (frames, sampled by the Go
    # encoder as VLM2Vec samples them).
    cases = [
        ("query_text", "gme",
         lambda g: g.get_text_embeddings(texts=["a red car", "two cats sleeping on a sofa in the afternoon sun", "dog"], instruction=Q),
         [{"instruction": Q, "text": t} for t in ["a red car", "two cats sleeping on a sofa in the afternoon sun", "dog"]]),
        ("corpus_text", "gme",
         lambda g: g.encode_corpus([{"title": "Cars", "text": "A red car is parked outside."}, {"text": " a bare document "}]),
         [{"text": "Cars A red car is parked outside."}, {"text": "a bare document"}]),
        ("corpus_images", "gme",
         lambda g: g.get_image_embeddings(images=[img("photo_120x90.png"), img("wide_300x40.png"), img("tall_40x260.png"), img("tiny_10x7.png")], is_query=False),
         [{"image": f} for f in ["photo_120x90.png", "wide_300x40.png", "tall_40x260.png", "tiny_10x7.png"]]),
        ("fused_query", "gme",
         lambda g: g.get_fused_embeddings(texts=["a yellow sun over blue water", "stripes"], images=[img("big_500x333.png"), img("alpha_64x48.png")], instruction=F),
         [{"instruction": F, "text": "a yellow sun over blue water", "image": "big_500x333.png"}, {"instruction": F, "text": "stripes", "image": "alpha_64x48.png"}]),
        ("strip", "gme",
         lambda g: g.get_image_embeddings(images=[img(strip)], is_query=False),
         [{"image": strip}]),
        # VLM2Vec's MMEB rows, as its GME path receives them: the image token
        # and its newline stripped from the V1-format text, no instruction.
        ("eval_images", "gme-eval",
         lambda g: g.get_fused_embeddings(texts=["Represent the given image with the following question: what is this?\n", "Represent the given image.\n"], images=[img("photo_120x90.png"), img("up_30x29.png")]),
         [{"prompt": "<|image_1|>\nRepresent the given image with the following question: what is this?\n", "image": "photo_120x90.png"},
          {"prompt": "<|image_1|>\nRepresent the given image.\n", "image": "up_30x29.png"}]),
        ("eval_text", "gme-eval",
         lambda g: g.get_fused_embeddings(texts=["Find me an everyday image that matches the given caption: a man rides a horse\n", "A horse.\n"]),
         [{"prompt": "Find me an everyday image that matches the given caption: a man rides a horse\n"}, {"prompt": "A horse.\n"}]),
        # Instruction and text joined by process_input_text (GME: "inst text").
        ("eval_joined", "gme-eval",
         lambda g: g.get_fused_embeddings(texts=["Represent the given image. a cat"], images=[img("exact_84x56.png")]),
         [{"instruction": "Represent the given image.", "text": "a cat", "image": "exact_84x56.png", "format": "gme-eval"}]),
        # A video task: GME sees the middle of the sampled frames.
        ("eval_video", "gme-eval",
         lambda g: g.get_fused_embeddings(texts=["Recognize the category of the video content."], images=[img(os.path.join("..", "videos", clip, clip_files[middle]))]),
         [{"prompt": "<|video_pad|> Recognize the category of the video content.", "video": clip}]),
    ]

    models = {"vendored": VendoredQwen2VL, "transformers": transformers.Qwen2VLForConditionalGeneration}
    results = {}
    for mname, mcls in models.items():
        gmes = {}
        for variant, px in (("gme", GME_PIXELS), ("gme-eval", EVAL_PIXELS)):
            g = build_gme(gi, vendored_processor, mcls, path, px)
            gmes[variant] = (g, Recorder(g))
        for cid, variant, call, _ in cases:
            g, rec = gmes[variant]
            with torch.no_grad():
                results[(mname, cid)] = run_case(g, rec, call)

    entries = []
    max_model_diff = 0.0
    for cid, variant, call, go_inputs in cases:
        emb, calls = results[("vendored", cid)]
        emb_t, _ = results[("transformers", cid)]
        d = float((emb - emb_t).abs().max())
        max_model_diff = max(max_model_diff, d)
        assert d < 1e-5, (cid, d)
        assert len(calls) == 1, (cid, len(calls))
        c = calls[0]
        assert c["decoder_position_ids"] is None, cid
        inp = c["inputs"]
        mask = inp["attention_mask"]
        ids = [row[m.bool()].tolist() for row, m in zip(inp["input_ids"], mask)]
        fetched = [[im.size[1], im.size[0]] for im in c["images"]] if c["images"] else []
        entries.append({
            "id": cid,
            "variant": variant,
            "pixels": list(GME_PIXELS if variant == "gme" else EVAL_PIXELS),
            "inputs": go_inputs,
            "prompts": c["texts"],
            "input_ids": ids,
            "padding_side": "left",
            "image_grid_thw": inp["image_grid_thw"].tolist() if "image_grid_thw" in inp else [],
            "fetched_hw": fetched,
            "decoder_position_ids": None,
            "embedding": flist(emb.float()),
            "vendored_vs_transformers_max_abs_diff": d,
        })
        if cid == "eval_video":
            entries[-1]["video_frames_sampled"] = sampled
            entries[-1]["video_frame_fed"] = middle

    # M-RoPE vs 1-D on one image case: the embedding must move, or the 1-D
    # check above would prove nothing.
    g = build_gme(gi, vendored_processor, VendoredQwen2VL, path, GME_PIXELS)
    im = gi.fetch_image(img("photo_120x90.png"))
    msg = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n<|endoftext|>"
    inp = g.processor(text=[msg], images=[im], padding=True, return_tensors="pt")
    pos, _ = g.base.get_rope_index(inp["input_ids"], inp["image_grid_thw"], None, inp["attention_mask"])
    with torch.no_grad():
        e1 = g.forward(**inp)
        e3 = g.forward(**inp, position_ids=pos)
    mrope_cos = float(torch.nn.functional.cosine_similarity(e1, e3)[0])
    assert mrope_cos < 0.9999, mrope_cos

    versions = {
        "python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
        "pillow": PIL.__version__, "numpy": np.__version__,
    }
    golden = {
        "generator": "scripts/goldens/gme/make_goldens.py",
        "versions": versions,
        "reference": {
            "file": "src/model/baseline_backbone/gme/gme_inference.py",
            "sha256": gme_sha,
            "vlm2vec_commit": args.vlm2vec_commit,
        },
        "checkpoint": CKPT,
        "dtype": "float32",
        "num_frames": NUM_FRAMES,
        "notes": "GmeQwen2VL run on CPU in float32 with eager attention (its __init__ forces flash_attention_2 and bf16); "
                 "the vendored and transformers Qwen2-VL models agree to %.3g; the decoder got no position ids in every case "
                 "(1-D positions); standard M-RoPE positions would move the photo_120x90 document embedding to cosine %.6f." % (max_model_diff, mrope_cos),
        "mrope_cosine_photo_120x90": mrope_cos,
        "cases": entries,
    }
    write_json(os.path.join(out, "gme_goldens.json"), golden)
    print("wrote", len(entries), "cases; vendored vs transformers", max_model_diff, "; M-RoPE cosine", mrope_cos)


def write_json(path, obj):
    """Pretty at the top level, one compact line per case."""
    items = list(obj.items())
    lines = ["{"]
    for i, (k, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f" {json.dumps(k)}: [")
            for j, e in enumerate(v):
                lines.append("  " + json.dumps(e, separators=(",", ":")) + ("," if j < len(v) - 1 else ""))
            lines.append(" ]" + comma)
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v)}{comma}")
    lines.append("}")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
