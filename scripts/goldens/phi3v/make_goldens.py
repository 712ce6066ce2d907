#!/usr/bin/env python3
"""Phi-3.5-Vision goldens for the Go encoder's phi3_v family.

No released transformers has Phi-3-V natively, so the reference is the
modeling and processing code VLM2Vec vendors (src/model/baseline_backbone/
phi3_v at --vlm2vec DIR), run with transformers 4.52.3 (requirements.txt
beside this file). Under encoder/phi3v/testdata it builds:

  * a small Llama-2-style tokenizer in Phi-3.5-V's layout (normalizer
    Prepend("▁") + Replace(" ", "▁"), BPE with byte fallback, <s> prepended,
    <|endoftext|> = pad, a few of Phi's chat tokens added);
  * tiny-phi3v: Phi-3.5-V's architecture scaled down: the CLIP tower keeps
    image size 336 and patch 14 (the HD transform hard-codes 336-pixel crops
    and 24x24 patch grids) at small widths; the Phi-3 decoder with GQA and
    "su" rope scaling (short factors in use); num_crops 4;
  * tiny-phi3v-b: other widths, feature layer -1, a 40-token sliding window,
    original_max_position_embeddings 64 (so image rows switch to the long
    factors and the attention factor), num_crops 16;
  * tiny-phi3v-lora / -dora: PEFT adapters on VLM2Vec's target list, which
    matches the decoder's qkv/o/gate_up/down_proj and CLIP's q/k/v/out_proj;
  * images/: deterministic test images;
  * processor_goldens.json: HD sizes, crop counts and image-token counts
    (4 and 16 crops, and the real formula for 336x336, 1344x1344, 640x480),
    and SHA-256 digests of every crop's float32 pixel values; with
    processor_goldens.safetensors, every 13th value of each global image
    (4 crops), which PyTorch's bicubic interpolation rounds its own way;
  * encoder_goldens.json: token ids and L2-normalised last-token
    embeddings, each row as the reference gives it run alone.

The vendored code is used as is except for two size constants the tiny
tower needs: image_embedding_phi3_v.CLIP_VIT_LARGE_PATCH14_336_CONFIG is
replaced by the tiny CLIP config (also written to config.json as
img_processor.clip_vision_config, which the Go loader reads), and the
"C == 1024" width assert of reshape_hd_patches_2x2merge is relaxed to the
tiny width (in a temporary copy of the file).

Models run in float32 with eager attention, one CPU thread.

    /tmp/venvphi/bin/python scripts/goldens/phi3v/make_goldens.py --vlm2vec /tmp/vlm2vec-src

With --bench-out DIR it writes only the benchmark checkpoint DIR/phi3v-slice
(real widths, few layers; scripts/bench/run.sh).
"""

import argparse
import hashlib
import importlib
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import peft
import PIL
import tokenizers
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from PIL import Image, ImageDraw
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import save_file as torch_save_file
from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers
from transformers import CLIPVisionConfig, LlamaTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(REPO, "encoder", "phi3v", "testdata")

CORPUS = [
    "Represent the given image with the following question: what is in the image?",
    "Find me an everyday image that matches the given caption: a cat sits on a red mat.",
    "Represent the given image for classification. Identify the object shown in the image.",
    "Retrieve an image of this news caption. A red car is parked near the old station.",
    "Find a caption for the news in the given photo. Two dogs play in the snow.",
    "Represent the given dialogue about an image, which is used for image retrieval.",
    "Given an image, find a similar everyday image with the described changes: make it blue.",
    "Select the portion of the image that isolates the object labeled as the yellow sun.",
    "The quick brown fox jumps over the lazy dog near the riverbank at sunset.",
    "What color is the car? How many people are standing next to the bus?",
]
SPECIALS = ["<unk>", "<s>", "</s>"]
ADDED = ["<|endoftext|>", "<|assistant|>", "<|end|>", "<|system|>", "<|user|>"]


def build_tokenizer():
    norm = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    bpe.normalizer = norm
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False)
    bpe.train_from_iterator(CORPUS, trainer=trainer)
    trained = json.loads(bpe.to_str())
    vocab, merges = trained["model"]["vocab"], trained["model"]["merges"]
    ordered = SPECIALS + [f"<0x{b:02X}>" for b in range(256)]
    ordered += [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t not in SPECIALS]
    model = models.BPE(vocab={t: i for i, t in enumerate(ordered)}, merges=[tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges],
                       unk_token="<unk>", byte_fallback=True, fuse_unk=True)
    tok = Tokenizer(model)
    tok.normalizer = norm
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    fast = LlamaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<|endoftext|>", unk_token="<unk>",
                              add_bos_token=True, add_eos_token=False, padding_side="right", legacy=True)
    fast.add_special_tokens({"pad_token": "<|endoftext|>", "additional_special_tokens": ADDED[1:]})
    assert fast("")["input_ids"] == [1]
    assert fast.pad_token_id == len(ordered), fast.pad_token_id
    return fast


SPECS = {
    "tiny-phi3v": dict(
        seed=3131, num_crops=4,
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2),
        text=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=131072,
                  original_max_position_embeddings=4096, sliding_window=262144),
        layer_idx=-2),
    "tiny-phi3v-b": dict(
        seed=4141, num_crops=16,
        vision=dict(hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=3),
        text=dict(hidden_size=96, intermediate_size=80, num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=6,
                  rope_theta=5000.0, rms_norm_eps=1e-6, max_position_embeddings=256,
                  original_max_position_embeddings=64, sliding_window=40),
        layer_idx=-1),
}


def clip_config(spec):
    return dict(attention_dropout=0.0, dropout=0.0, hidden_act="quick_gelu", image_size=336, patch_size=14,
                initializer_factor=1.0, initializer_range=0.02, layer_norm_eps=1e-5, num_channels=3, projection_dim=32,
                **spec["vision"])


def rope_factors(n, seed):
    rs = np.random.RandomState(seed)
    short = [round(float(x), 6) for x in 1.0 + 0.2 * rs.rand(n)]
    long = [round(float(x), 6) for x in 1.0 + 30.0 * np.linspace(0, 1, n) ** 2 + 0.1 * rs.rand(n)]
    return short, long


def make_config(ref, spec, tok):
    t = spec["text"]
    head = t["hidden_size"] // t["num_attention_heads"]
    short, long = rope_factors(head // 2, spec["seed"])
    vocab = (len(tok) + 63) // 64 * 64
    return ref["config"].Phi3VConfig(
        vocab_size=vocab, hidden_act="silu", resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0,
        bos_token_id=1, eos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"), pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False, rope_scaling={"type": "su", "short_factor": short, "long_factor": long},
        embd_layer={"embedding_cls": "image", "hd_transform_order": "sub_glb", "projection_cls": "mlp",
                    "use_hd_transform": True, "with_learnable_separator": True},
        img_processor={"image_dim_out": spec["vision"]["hidden_size"], "model_name": "openai/clip-vit-large-patch14-336",
                       "name": "clip_vision_model", "num_img_tokens": 144, "layer_idx": spec["layer_idx"],
                       "type_feature": "patch", "clip_vision_config": clip_config(spec)},
        architectures=["Phi3VForCausalLM"], **t)


def load_reference(vlm2vec, width):
    """Imports a copy of VLM2Vec's phi3_v package with the tiny tower's sizes."""
    src = os.path.join(vlm2vec, "src", "model", "baseline_backbone", "phi3_v")
    tmp = tempfile.mkdtemp(prefix="phi3v_ref_")
    pkg = os.path.join(tmp, "phi3v_ref")
    shutil.copytree(src, pkg)
    emb = os.path.join(pkg, "image_embedding_phi3_v.py")
    code = open(emb).read()
    assert code.count("C == 1024") == 1
    open(emb, "w").write(code.replace("C == 1024", f"C == {width}"))
    for mod in [m for m in sys.modules if m.startswith("phi3v_ref")]:
        del sys.modules[mod]
    sys.path.insert(0, tmp)
    try:
        ref = {k: importlib.import_module(f"phi3v_ref.{m}") for k, m in
               (("config", "configuration_phi3_v"), ("embedding", "image_embedding_phi3_v"), ("modeling", "modeling_phi3_v"),
                ("image", "image_processing_phi3_v"), ("processing", "processing_phi3_v"))}
    finally:
        sys.path.remove(tmp)
    return ref


def with_clip(ref, spec):
    ref["embedding"].CLIP_VIT_LARGE_PATCH14_336_CONFIG = CLIPVisionConfig(**clip_config(spec))


def init_weights(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if ("norm" in name or "layrnorm" in name) and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("bias"):
                p.copy_(0.05 * r)
            elif "embed_tokens" in name or name.endswith("_GN") or "class_embedding" in name:
                p.copy_(0.5 * r)
            else:
                p.copy_(0.08 * r)


def make_processor(ref, tok, num_crops):
    ip = ref["image"].Phi3VImageProcessor(num_crops=num_crops, num_img_tokens=144)
    return ref["processing"].Phi3VProcessor(image_processor=ip, tokenizer=tok)


WTE = "model.vision_embed_tokens.wte.weight"  # the same module as model.embed_tokens


def make_checkpoint(ref, name, spec, tok):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    with_clip(ref, spec)
    config = make_config(ref, spec, tok)
    config._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = ref["modeling"].Phi3VForCausalLM(config).eval()
    init_weights(model, spec["seed"])
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if k != WTE}
    torch_save_file(sd, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    config.auto_map = {"AutoConfig": "configuration_phi3_v.Phi3VConfig", "AutoModelForCausalLM": "modeling_phi3_v.Phi3VForCausalLM"}
    config.torch_dtype = torch.float32
    config.save_pretrained(path)  # config.json as the Hub's: only fields that differ from PretrainedConfig's defaults
    proc = make_processor(ref, tok, spec["num_crops"])
    proc.save_pretrained(path)
    return path


def load(ref, spec, path, adapter=None):
    with_clip(ref, spec)
    config = ref["config"].Phi3VConfig.from_pretrained(path)
    config._attn_implementation = "eager"
    m = ref["modeling"].Phi3VForCausalLM.from_pretrained(path, config=config, torch_dtype=torch.float32).eval()
    assert m.model.vision_embed_tokens.wte is m.model.embed_tokens
    if adapter:
        m = PeftModel.from_pretrained(m, adapter, is_trainable=False).eval()
    return m


# VLM2Vec's default target_modules (V1 and V2.0).
TARGETS = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj", "k_proj", "q_proj", "out_proj", "v_proj"]


def make_adapter(ref, spec, base, out, dora, seed):
    model = load(ref, spec, base)
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, init_lora_weights="gaussian", use_dora=dora,
                     target_modules=TARGETS, bias="none")
    pm = get_peft_model(model, cfg).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(pm.named_parameters(), key=lambda kv: kv[0]):
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif "lora_magnitude_vector" in name:
                p.mul_(1 + 0.1 * torch.randn(p.shape, generator=g))
    shutil.rmtree(out, ignore_errors=True)
    pm.save_pretrained(out, safe_serialization=True)
    return out


def make_images(img_dir):
    os.makedirs(img_dir, exist_ok=True)
    rs = np.random.RandomState(5151)

    def photo(w, h, noise):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        arr = np.stack([128 + 100 * np.sin(x / w * 3.1 + y / h * 1.3), 40 + 180 * (y / max(h - 1, 1)),
                        128 + 90 * np.cos(np.hypot(x - 0.6 * w, y - 0.4 * h) / 7.0)], -1)
        arr += rs.randint(-noise, noise + 1, size=arr.shape)
        im = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")
        d = ImageDraw.Draw(im)
        d.ellipse([w * 0.1, h * 0.2, w * 0.45, h * 0.75], fill=(250, 240, 30))
        d.rectangle([w * 0.6, h * 0.55, w * 0.9, h * 0.9], fill=(10, 20, 200))
        d.line([0, h - 1, w - 1, 0], fill=(255, 255, 255), width=2)
        return np.asarray(im).copy()

    for w, h, noise in [(56, 56, 10), (120, 90, 12), (300, 40, 6), (40, 260, 6), (336, 336, 8), (85, 113, 9), (700, 333, 4)]:
        Image.fromarray(photo(w, h, noise)).save(os.path.join(img_dir, f"photo_{w}x{h}.png"), optimize=True)
    Image.fromarray(rs.randint(0, 256, size=(7, 10, 3)).astype(np.uint8)).save(os.path.join(img_dir, "tiny_10x7.png"))
    rgba = np.concatenate([photo(64, 48, 10), rs.randint(0, 256, size=(48, 64, 1)).astype(np.uint8)], -1)
    rgba[:8, :8, 3] = 0
    Image.fromarray(rgba, "RGBA").save(os.path.join(img_dir, "alpha_64x48.png"))
    return sorted(os.listdir(img_dir))


def open_image(img_dir, fn):
    with Image.open(os.path.join(img_dir, fn)) as im:
        im.load()
        return im.copy()


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


GLOBAL_STRIDE = 13  # every 13th value of a global image is kept in the safetensors file


def processor_goldens(ref, tok, img_files, img_dir):
    cases, tensors = [], {}
    for crops in (4, 16):
        proc = make_processor(ref, tok, crops)
        for fn in img_files:
            im = open_image(img_dir, fn)
            out = proc.image_processor(im, return_tensors="pt")
            pv = out["pixel_values"][0].numpy()
            h, w = [int(x) for x in out["image_sizes"][0]]
            n = (h // 336) * (w // 336)
            assert np.all(pv[1 + n:] == 0)
            cases.append({
                "id": f"crops{crops}:{fn}", "num_crops": crops, "image": fn, "hd_size": [h, w], "crops": n,
                "image_tokens": int(out["num_img_tokens"][0]),
                "image_tokens_from_size": proc.image_processor.calc_num_image_tokens_from_image_size(*im.size),
                "global_sha256": digest(pv[0]), "local_sha256": [digest(pv[1 + k]) for k in range(n)],
                "global_sum": float(pv[0].astype(np.float64).sum()), "global_abs_sum": float(np.abs(pv[0].astype(np.float64)).sum()),
            })
            if crops == 4:
                key = cases[-1]["id"] + "/global_sample"
                tensors[key] = np.ascontiguousarray(pv[0].reshape(-1)[::GLOBAL_STRIDE].astype(np.float32))
                cases[-1]["global_sample_key"] = key
    real = []
    for crops in (4, 16):
        ip = ref["image"].Phi3VImageProcessor(num_crops=crops, num_img_tokens=144)
        for w, h in [(336, 336), (1344, 1344), (640, 480)]:
            real.append({"num_crops": crops, "width": w, "height": h, "image_tokens": ip.calc_num_image_tokens_from_image_size(w, h)})
    return cases, tensors, real


IMG_Q = "<|image_1|>\nRepresent the given image with the following question: what is in the image?\n"
IMG_D = "<|image_1|>\nRepresent the given image.\n"
TXT_Q = "Find me an everyday image that matches the given caption: a cat sits on a red mat.\n"
TXT_S = "Two dogs play in the snow.\n"


def R(text, *imgs):
    return {"text": text, "images": list(imgs)}


CASES = [
    ("text_only", [R(TXT_Q), R(TXT_S)]),
    ("square_56", [R(IMG_D, "photo_56x56.png")]),
    ("photo_120x90", [R(IMG_Q, "photo_120x90.png")]),
    ("wide_300x40", [R(IMG_D, "photo_300x40.png")]),
    ("tall_40x260", [R(IMG_D, "photo_40x260.png")]),
    ("exact_336", [R(IMG_D, "photo_336x336.png")]),
    ("tiny_10x7", [R(IMG_D, "tiny_10x7.png")]),
    ("big_700x333", [R(IMG_Q, "photo_700x333.png")]),
    ("alpha_64x48", [R(IMG_D, "alpha_64x48.png")]),
    ("two_rows", [R(IMG_Q, "photo_85x113.png"), R(IMG_D, "photo_120x90.png")]),
    ("mixed", [R(TXT_Q), R(IMG_Q, "photo_120x90.png"), R(TXT_S)]),
    ("two_images", [R("<|image_1|> and <|image_2|>: are they similar?\n", "photo_300x40.png", "photo_56x56.png")]),
    ("text_after_image", [R("A caption first, then <|image_1|>", "photo_85x113.png")]),
]
ADAPTER_CASES = ["text_only", "photo_120x90", "mixed"]
B_CASES = ["text_only", "square_56", "wide_300x40", "big_700x333", "mixed"]


def build_batch(proc, rows, img_dir):
    """VLM2Vec's Phi3V_process_fn: one processor call per row, right padding."""
    ids, pixel_values, image_sizes = [], [], []
    for r in rows:
        ims = [open_image(img_dir, fn) for fn in r["images"]]
        if ims:
            out = proc(text=r["text"], images=ims, return_tensors="np")
            pixel_values.append(out["pixel_values"])
            image_sizes.append(out["image_sizes"])
        else:
            out = proc(r["text"], None, return_tensors="np")
            pixel_values.append(None)
            image_sizes.append(None)
        x = out["input_ids"].squeeze().tolist()
        ids.append([x] if isinstance(x, int) else x)
    enc = proc.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    if any(p is not None for p in pixel_values):
        batch["pixel_values"], batch["image_sizes"] = pixel_values, image_sizes
    else:
        batch["pixel_values"] = torch.zeros(len(rows), 1)
        batch["image_sizes"] = torch.ones(len(rows), 1)
    return batch, ids


def embed(model, batch):
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, use_cache=False, return_dict=True)
    hs = out.hidden_states[-1].float()
    idx = (batch["attention_mask"].sum(1) - 1).tolist()
    pooled = torch.stack([hs[i, j] for i, j in enumerate(idx)])
    return idx, torch.nn.functional.normalize(pooled, p=2, dim=-1)


def encoder_goldens(refs, tok, paths, img_dir):
    cases = []
    variants = [("tiny-phi3v", None), ("tiny-phi3v-b", None), ("tiny-phi3v", "tiny-phi3v-lora"), ("tiny-phi3v", "tiny-phi3v-dora")]
    for ckpt, adapter in variants:
        spec, ref = SPECS[ckpt], refs[ckpt]
        proc = make_processor(ref, tok, spec["num_crops"])
        model = load(ref, spec, paths[ckpt], paths[adapter] if adapter else None)
        for cid, rows in CASES:
            if adapter and cid not in ADAPTER_CASES or ckpt == "tiny-phi3v-b" and cid not in B_CASES:
                continue
            batch, ids = build_batch(proc, rows, img_dir)
            _, together = embed(model, batch)
            alone = []
            for r in rows:
                _, e = embed(model, build_batch(proc, [r], img_dir)[0])
                alone.append(e[0])
            alone = torch.stack(alone)
            # The reference picks short or long rope factors by the padded
            # batch length, so a short row batched with a long one changes;
            # the goldens are each row alone.
            diff = float((alone - together).abs().max())
            cases.append({
                "id": f"{ckpt}{'+' + adapter.split('-')[-1] if adapter else ''}/{cid}",
                "model": ckpt, "adapter": adapter, "rows": rows, "input_ids": ids,
                "pooled_index": [len(x) - 1 for x in ids],
                "batched_vs_alone_max_diff": diff,
                "embedding": [[float(x) for x in e] for e in alone.tolist()],
            })
            print(cases[-1]["id"], "batched-vs-alone", f"{diff:.2e}")
    return cases


def write_json(path, obj):
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
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# The benchmark slice (scripts/bench): Phi-3.5-vision-instruct's widths
# (decoder 3072 wide, 32 heads, MLP 8192, su scaling; CLIP ViT-L/14-336),
# 2 decoder layers instead of 32, 3 CLIP layers instead of 24 (layer -2
# runs 2), the tiny tokenizer's vocabulary, num_crops 4.
BENCH_SLICE = dict(
    seed=9229, num_crops=4,
    vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=3, num_attention_heads=16),
    text=dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=2, num_attention_heads=32, num_key_value_heads=32,
              rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=131072,
              original_max_position_embeddings=4096, sliding_window=262144),
    layer_idx=-2)


def make_bench_slice(vlm2vec, out):
    spec = BENCH_SLICE
    ref = load_reference(vlm2vec, spec["vision"]["hidden_size"])
    tok = build_tokenizer()
    path = os.path.join(out, "phi3v-slice")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    with_clip(ref, spec)
    config = make_config(ref, spec, tok)
    config._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = ref["modeling"].Phi3VForCausalLM(config).eval()  # the reference's own init
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if k != WTE}
    torch_save_file(sd, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    config.auto_map = {"AutoConfig": "configuration_phi3_v.Phi3VConfig", "AutoModelForCausalLM": "modeling_phi3_v.Phi3VForCausalLM"}
    config.torch_dtype = torch.float32
    config.save_pretrained(path)
    make_processor(ref, tok, spec["num_crops"]).save_pretrained(path)
    print(f"phi3v-slice: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters -> {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vlm2vec", required=True, help="a checkout of TIGER-AI-Lab/VLM2Vec (its src/ folder is read)")
    ap.add_argument("--bench-out", help="only write the benchmark checkpoint DIR/phi3v-slice (scripts/bench)")
    args = ap.parse_args()
    if args.bench_out:
        make_bench_slice(args.vlm2vec, args.bench_out)
        return
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    versions = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
                "peft": peft.__version__, "pillow": PIL.__version__, "numpy": np.__version__, "tokenizers": tokenizers.__version__}
    tok = build_tokenizer()
    # The width assert is per file, so one copy of the reference per tower width.
    refs = {name: load_reference(args.vlm2vec, spec["vision"]["hidden_size"]) for name, spec in SPECS.items()}
    paths = {name: make_checkpoint(refs[name], name, spec, tok) for name, spec in SPECS.items()}
    a = SPECS["tiny-phi3v"]
    paths["tiny-phi3v-lora"] = make_adapter(refs["tiny-phi3v"], a, paths["tiny-phi3v"], os.path.join(OUT, "tiny-phi3v-lora"), False, 5252)
    paths["tiny-phi3v-dora"] = make_adapter(refs["tiny-phi3v"], a, paths["tiny-phi3v"], os.path.join(OUT, "tiny-phi3v-dora"), True, 6262)
    img_dir = os.path.join(OUT, "images")
    img_files = make_images(img_dir)
    pcases, ptensors, real = processor_goldens(refs["tiny-phi3v"], tok, img_files, img_dir)
    np_save_file(dict(sorted(ptensors.items())), os.path.join(OUT, "processor_goldens.safetensors"))
    write_json(os.path.join(OUT, "processor_goldens.json"), {"versions": versions, "global_stride": GLOBAL_STRIDE,
                                                             "real_geometry": real, "cases": pcases})
    ecases = encoder_goldens(refs, tok, paths, img_dir)
    write_json(os.path.join(OUT, "encoder_goldens.json"), {
        "versions": versions, "dtype": "float32", "padding_side": "right",
        "note": "hidden_states[-1] at sum(attention_mask)-1, L2-normalised, each row run alone; "
                "batched_vs_alone_max_diff is the reference's own batch effect (rope factors chosen by padded length)",
        "cases": ecases})
    print("real geometry:", real)
    print(len(pcases), "processor cases,", len(ecases), "encoder cases")


if __name__ == "__main__":
    main()
