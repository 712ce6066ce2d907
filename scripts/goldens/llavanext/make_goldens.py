#!/usr/bin/env python3
"""LLaVA-NeXT goldens for the Go encoder's llava_next family.

Builds, with transformers 4.52.3 (requirements.txt beside this file),
under encoder/llavanext/testdata:

  * a small Llama/Mistral-style tokenizer (BPE with byte fallback, Metaspace,
    <s> prepended, "<image>" and "<pad>" added), shared by the checkpoints;
  * tiny-llava: LLaVA-1.6-Mistral's architecture scaled down (CLIP tower
    56 px, patch 14, feature layer -2, "default" strategy; the real grid
    pinpoints divided by 6; Mistral decoder with GQA, no sliding window),
    saved by save_pretrained (model.language_model.* names);
  * tiny-llava-hub: the same tensors under the older names llava-hf's Hub
    checkpoints carry (language_model.model.*, vision_tower.*, ...);
  * tiny-llava-b: other widths, two feature layers ([-3, -1]), other
    pinpoints (one of them a single crop), a 12-token sliding window;
  * tiny-llava-lora / tiny-llava-dora: PEFT adapters on VLM2Vec's LLaVA
    targets (q/k/v/o/down_proj: which also match CLIP's q/k/v_proj);
  * images/: deterministic test images;
  * processor_goldens.json (+ .safetensors: every crop's pixel values for
    tiny-llava): best resolutions, image sizes, <image> token counts, for
    the images as they are and pre-resized to 1344x1344 (VLM2Vec's "high"
    resolution), and token counts of the real llava-v1.6-mistral-7b
    geometry for 336x336, 1344x1344 and 640x480 images;
  * encoder_goldens.json: token ids and L2-normalised last-token
    embeddings of prompt batches (right padding, as VLM2Vec's collator).

Models run in float32 with eager attention, one CPU thread.

    /tmp/venvllava/bin/python scripts/goldens/llavanext/make_goldens.py

With --bench-out DIR it writes only the benchmark checkpoint DIR/llava-slice
(real widths, few layers; scripts/bench/run.sh).
"""

import json
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
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save_file as torch_save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    LlamaTokenizerFast,
    LlavaNextConfig,
    LlavaNextForConditionalGeneration,
    LlavaNextImageProcessor,
    LlavaNextProcessor,
)
from transformers.image_processing_utils import select_best_resolution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(REPO, "encoder", "llavanext", "testdata")

CORPUS = [
    "Represent the given image with the following question: what is in the image?",
    "Find me an everyday image that matches the given caption: a cat sits on a red mat.",
    "Represent the given image for classification. Identify the object shown in the image.",
    "Retrieve an image of this news caption. A red car is parked near the old station.",
    "Find a caption for the news in the given photo. Two dogs play in the snow.",
    "Represent the given dialogue about an image, which is used for image retrieval.",
    "Given an image, find a similar everyday image with the described changes: make it blue.",
    "Select the portion of the image that isolates the object labeled as the yellow sun.",
    "Represent the given Wikipedia image with related text information about the river.",
    "The quick brown fox jumps over the lazy dog near the riverbank at sunset.",
    "A photo of a small house with a green door, a garden and a wooden fence.",
    "Identify the scene shown in the image: a beach, a forest, a city street or a kitchen.",
    "What color is the car? How many people are standing next to the bus?",
    "Represent the given image. Represent the given cropped image of the object.",
]
SPECIALS = ["<unk>", "<s>", "</s>"]


def build_tokenizer():
    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=SPECIALS, show_progress=False)
    bpe.train_from_iterator(CORPUS, trainer=trainer)
    trained = json.loads(bpe.to_str())
    vocab, merges = trained["model"]["vocab"], trained["model"]["merges"]
    # Llama's layout: specials, then the 256 byte-fallback tokens, then the
    # learned pieces.
    ordered = SPECIALS + [f"<0x{b:02X}>" for b in range(256)]
    ordered += [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t not in SPECIALS]
    model = models.BPE(vocab={t: i for i, t in enumerate(ordered)}, merges=[tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges],
                       unk_token="<unk>", byte_fallback=True, fuse_unk=True)
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="\u2581", prepend_scheme="first"), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    fast = LlamaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                              add_bos_token=True, add_eos_token=False, padding_side="right")
    fast.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": ["<image>"]})
    ids = fast("<image>\nRepresent the given image.\n")["input_ids"]
    assert ids[0] == 1 and ids[1] == fast.convert_tokens_to_ids("<image>"), ids
    return fast


SPECS = {
    "tiny-llava": dict(
        seed=6006, vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2),
        text=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  head_dim=16, rope_theta=1000000.0, rms_norm_eps=1e-5, sliding_window=None),
        pinpoints=[[56, 112], [112, 56], [112, 112], [168, 56], [56, 168]], feature_layer=-2),
    "tiny-llava-b": dict(
        seed=7007, vision=dict(hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=3),
        text=dict(hidden_size=96, intermediate_size=160, num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
                  head_dim=16, rope_theta=10000.0, rms_norm_eps=1e-6, sliding_window=12),
        pinpoints=[[56, 56], [56, 112], [112, 56], [112, 112], [168, 112]], feature_layer=[-3, -1]),
}


def make_config(spec, tok):
    vocab = (len(tok) + 63) // 64 * 64
    return LlavaNextConfig(
        vision_config=dict(model_type="clip_vision_model", image_size=56, patch_size=14, hidden_act="quick_gelu",
                           layer_norm_eps=1e-5, projection_dim=32, **spec["vision"]),
        text_config=dict(model_type="mistral", vocab_size=vocab, max_position_embeddings=4096, tie_word_embeddings=False,
                         **spec["text"]),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=spec["pinpoints"],
        vision_feature_layer=spec["feature_layer"],
        vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
        tie_word_embeddings=False,
    )


def init_weights(model, seed):
    # Larger than transformers' default std, so activations and attention
    # are far from degenerate and numeric mistakes show.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if ("norm" in name or "layrnorm" in name) and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("bias"):
                p.copy_(0.05 * r)
            elif "embed_tokens" in name or name.endswith("image_newline") or "class_embedding" in name:
                p.copy_(0.5 * r)
            else:
                p.copy_(0.08 * r)


def make_processor(tok, pinpoints):
    ip = LlavaNextImageProcessor(size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56},
                                 image_grid_pinpoints=pinpoints, do_pad=True)
    return LlavaNextProcessor(image_processor=ip, tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                              num_additional_image_tokens=1, image_token="<image>")


def hub_name(name):
    # transformers >= 4.52 names -> llava-hf's Hub checkpoint names.
    for new, old in (("model.language_model.", "language_model.model."), ("model.vision_tower.", "vision_tower."),
                     ("model.multi_modal_projector.", "multi_modal_projector.")):
        if name.startswith(new):
            return old + name[len(new):]
    return {"model.image_newline": "image_newline", "lm_head.weight": "language_model.lm_head.weight"}.get(name, name)


def make_checkpoint(name, spec, tok):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    config = make_config(spec, tok)
    config._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = LlavaNextForConditionalGeneration(config).eval()
    init_weights(model, spec["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for fn in os.listdir(tmp):
            shutil.copyfile(os.path.join(tmp, fn), os.path.join(path, fn))
    make_processor(tok, spec["pinpoints"]).save_pretrained(path)
    return path


def make_hub_copy(src):
    dst = src + "-hub"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    tensors = torch_load_file(os.path.join(src, "model.safetensors"))
    os.remove(os.path.join(dst, "model.safetensors"))
    torch_save_file({hub_name(k): v.contiguous() for k, v in tensors.items()}, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    return dst


def load(path, adapter=None):
    m = LlavaNextForConditionalGeneration.from_pretrained(path, torch_dtype=torch.float32, attn_implementation="eager").eval()
    if adapter:
        m = PeftModel.from_pretrained(m, adapter, is_trainable=False).eval()
    return m


def make_adapter(base, out, dora, seed):
    model = load(base)
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, init_lora_weights="gaussian", use_dora=dora,
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"], bias="none")
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
    rs = np.random.RandomState(4321)
    out = {}

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

    for w, h, noise in [(56, 56, 10), (120, 90, 12), (300, 40, 6), (40, 260, 6), (200, 150, 8), (85, 113, 9), (500, 333, 4)]:
        fn = f"photo_{w}x{h}.png"
        Image.fromarray(photo(w, h, noise)).save(os.path.join(img_dir, fn), optimize=True)
        out[fn] = fn
    Image.fromarray(rs.randint(0, 256, size=(7, 10, 3)).astype(np.uint8)).save(os.path.join(img_dir, "tiny_10x7.png"))
    rgba = np.concatenate([photo(64, 48, 10), rs.randint(0, 256, size=(48, 64, 1)).astype(np.uint8)], -1)
    rgba[:8, :8, 3] = 0
    Image.fromarray(rgba, "RGBA").save(os.path.join(img_dir, "alpha_64x48.png"))
    return sorted(os.listdir(img_dir))


def open_rgb(img_dir, fn, pre=None):
    with Image.open(os.path.join(img_dir, fn)) as im:
        im = im.convert("RGB")
    if pre:
        im = im.resize((pre, pre))  # VLM2Vec's square pre-resize, Pillow's default filter (bicubic)
    return im


def image_tokens(proc, im):
    ids = proc(text=["<image>"], images=[im], return_tensors="pt")["input_ids"][0].tolist()
    return sum(1 for i in ids if i == proc.tokenizer.convert_tokens_to_ids("<image>"))


def processor_goldens(tok, img_files, img_dir):
    cases, tensors = [], {}
    for name, spec in SPECS.items():
        proc = make_processor(tok, spec["pinpoints"])
        for fn in img_files:
            for pre in (None, 1344):
                im = open_rgb(img_dir, fn, pre)
                out = proc.image_processor(images=[im], return_tensors="np")
                pv = out["pixel_values"][0]
                h, w = [int(x) for x in out["image_sizes"][0]]
                bh, bw = select_best_resolution([h, w], spec["pinpoints"])
                n = 1 + (bh // 56) * (bw // 56)
                key = f"{name}:{fn}" + (f"@{pre}" if pre else "")
                entry = {"id": key, "checkpoint": name, "image": fn, "pre_resize": pre or 0, "image_size": [h, w],
                         "best_resolution": [bh, bw], "num_crops": n, "image_tokens": image_tokens(proc, im)}
                assert np.all(pv[n:] == 0)
                # Pixel values of tiny-llava's images (two of the pre-resized
                # ones: they all tile alike), to keep the file small.
                if name == "tiny-llava" and (not pre or fn in ("photo_200x150.png", "photo_40x260.png")):
                    tensors[key + "/pixel_values"] = np.ascontiguousarray(pv[:n].astype(np.float32))
                    entry["pixel_values_key"] = key + "/pixel_values"
                cases.append(entry)
    # The real llava-v1.6-mistral-7b-hf geometry (counts only).
    ip = LlavaNextImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                 image_grid_pinpoints=[[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]])
    real = LlavaNextProcessor(image_processor=ip, tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                              num_additional_image_tokens=1, image_token="<image>")
    real_counts = []
    for w, h in [(336, 336), (1344, 1344), (640, 480)]:
        real_counts.append({"width": w, "height": h, "image_tokens": image_tokens(real, Image.new("RGB", (w, h), (90, 120, 200)))})
    return cases, tensors, real_counts


IMG_Q = "<image>\nRepresent the given image with the following question: what is in the image?\n"
IMG_D = "<image>\nRepresent the given image.\n"
TXT_Q = "Find me an everyday image that matches the given caption: a cat sits on a red mat.\n"
TXT_S = "Two dogs play in the snow.\n"


def R(text, *imgs, pre=None):
    return {"text": text, "images": list(imgs), "pre_resize": pre or 0}


CASES = [
    ("text_only", [R(TXT_Q), R(TXT_S)]),
    ("square_56", [R(IMG_D, "photo_56x56.png")]),
    ("photo_120x90", [R(IMG_Q, "photo_120x90.png")]),
    ("wide_300x40", [R(IMG_D, "photo_300x40.png")]),
    ("tall_40x260", [R(IMG_D, "photo_40x260.png")]),
    ("tiny_10x7", [R(IMG_D, "tiny_10x7.png")]),
    ("big_500x333", [R(IMG_Q, "photo_500x333.png")]),
    ("alpha_64x48", [R(IMG_D, "alpha_64x48.png")]),
    ("two_rows", [R(IMG_Q, "photo_200x150.png"), R(IMG_D, "photo_85x113.png")]),
    ("mixed", [R(TXT_Q), R(IMG_Q, "photo_120x90.png"), R(TXT_S)]),
    ("two_images", [R("<image> and <image>: are they similar?\n", "photo_300x40.png", "photo_56x56.png")]),
    ("pre_1344", [R(IMG_Q, "photo_200x150.png", pre=1344), R(IMG_D, "photo_40x260.png", pre=1344)]),
]
ADAPTER_CASES = ["text_only", "photo_120x90", "mixed"]


def build_batch(proc, rows, img_dir):
    per_row, pixel_rows, sizes = [], [], []
    for r in rows:
        ims = [open_rgb(img_dir, fn, r["pre_resize"] or None) for fn in r["images"]]
        out = proc(text=[r["text"]], images=ims or None, return_tensors="pt")
        per_row.append(out["input_ids"][0])
        if ims:
            for k in range(len(ims)):
                pixel_rows.append(out["pixel_values"][k])
                sizes.append(out["image_sizes"][k])
    s = max(len(x) for x in per_row)
    pad = proc.tokenizer.pad_token_id
    ids = torch.full((len(rows), s), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), s), dtype=torch.long)
    for i, x in enumerate(per_row):  # right padding, as VLM2Vec's collator
        ids[i, : len(x)] = x
        mask[i, : len(x)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if pixel_rows:
        n = max(p.shape[0] for p in pixel_rows)
        pv = torch.zeros((len(pixel_rows), n) + tuple(pixel_rows[0].shape[1:]))
        for k, p in enumerate(pixel_rows):
            pv[k, : p.shape[0]] = p
        batch["pixel_values"] = pv
        batch["image_sizes"] = torch.stack(sizes)
    return batch


def embed(model, batch):
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, use_cache=False, return_dict=True)
    hs = out.hidden_states[-1].float()
    idx = (batch["attention_mask"].sum(1) - 1).tolist()
    pooled = torch.stack([hs[i, j] for i, j in enumerate(idx)])
    return idx, torch.nn.functional.normalize(pooled, p=2, dim=-1)


def encoder_goldens(tok, paths, img_dir):
    cases = []
    variants = [("tiny-llava", None), ("tiny-llava-hub", None), ("tiny-llava-b", None),
                ("tiny-llava", "tiny-llava-lora"), ("tiny-llava", "tiny-llava-dora")]
    for ckpt, adapter in variants:
        spec = SPECS[ckpt.replace("-hub", "")]
        proc = make_processor(tok, spec["pinpoints"])
        model = load(paths[ckpt], paths[adapter] if adapter else None)
        for cid, rows in CASES:
            if adapter and cid not in ADAPTER_CASES:
                continue
            if ckpt.endswith("-hub") and cid not in ("photo_120x90", "mixed"):
                continue
            batch = build_batch(proc, rows, img_dir)
            idx, emb = embed(model, batch)
            # Each row alone must give the same vector (no cross-row effects).
            for i, r in enumerate(rows):
                _, alone = embed(model, build_batch(proc, [r], img_dir))
                assert float((alone[0] - emb[i]).abs().max()) < 1e-5, (ckpt, cid, i)
            m = batch["attention_mask"].bool()
            cases.append({
                "id": f"{ckpt}{'+' + adapter.split('-')[-1] if adapter else ''}/{cid}",
                "model": ckpt, "adapter": adapter, "rows": rows,
                "input_ids": [batch["input_ids"][i][m[i]].tolist() for i in range(len(rows))],
                "image_sizes": batch["image_sizes"].tolist() if "image_sizes" in batch else [],
                "pooled_index": idx,
                "embedding": [[float(x) for x in e] for e in emb.tolist()],
            })
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


# The benchmark slice (scripts/bench): llava-v1.6-mistral-7b's widths and
# geometry (CLIP ViT-L/14-336, the real pinpoints; Mistral-7B's decoder
# widths), 2 decoder layers instead of 32 and 3 CLIP layers instead of 24
# (feature layer -2 runs 2), the tiny tokenizer's vocabulary.
BENCH_SLICE = dict(
    seed=8118, vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=3, num_attention_heads=16),
    text=dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=2, num_attention_heads=32, num_key_value_heads=8,
              head_dim=128, rope_theta=1000000.0, rms_norm_eps=1e-5, sliding_window=None),
    pinpoints=[[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]], feature_layer=-2)


def make_bench_slice(out):
    path = os.path.join(out, "llava-slice")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    tok = build_tokenizer()
    spec = BENCH_SLICE
    config = make_config(spec, tok)
    config.vision_config.image_size = 336
    config._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = LlavaNextForConditionalGeneration(config).eval()  # transformers' own init
    model.save_pretrained(path, safe_serialization=True)
    ip = LlavaNextImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                 image_grid_pinpoints=spec["pinpoints"], do_pad=True)
    LlavaNextProcessor(image_processor=ip, tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                       num_additional_image_tokens=1, image_token="<image>").save_pretrained(path)
    print(f"llava-slice: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters -> {path}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--bench-out":
        make_bench_slice(sys.argv[2])
        return
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    versions = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
                "peft": peft.__version__, "pillow": PIL.__version__, "numpy": np.__version__, "tokenizers": tokenizers.__version__}
    tok = build_tokenizer()
    paths = {}
    for name, spec in SPECS.items():
        paths[name] = make_checkpoint(name, spec, tok)
    paths["tiny-llava-hub"] = make_hub_copy(paths["tiny-llava"])
    paths["tiny-llava-lora"] = make_adapter(paths["tiny-llava"], os.path.join(OUT, "tiny-llava-lora"), False, 8008)
    paths["tiny-llava-dora"] = make_adapter(paths["tiny-llava"], os.path.join(OUT, "tiny-llava-dora"), True, 9009)
    img_dir = os.path.join(OUT, "images")
    img_files = make_images(img_dir)
    pcases, ptensors, real = processor_goldens(tok, img_files, img_dir)
    np_save_file(dict(sorted(ptensors.items())), os.path.join(OUT, "processor_goldens.safetensors"))
    write_json(os.path.join(OUT, "processor_goldens.json"), {"versions": versions, "real_geometry": real, "cases": pcases})
    ecases = encoder_goldens(tok, paths, img_dir)
    write_json(os.path.join(OUT, "encoder_goldens.json"), {
        "versions": versions, "dtype": "float32", "padding_side": "right",
        "note": "hidden_states[-1] at sum(attention_mask)-1, L2-normalised; every row checked equal (1e-5) to the row run alone",
        "cases": ecases})
    print("real geometry:", real)
    print(len(pcases), "processor cases,", len(ecases), "encoder cases")


if __name__ == "__main__":
    main()
