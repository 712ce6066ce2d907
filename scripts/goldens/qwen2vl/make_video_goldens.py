#!/usr/bin/env python3
"""Video and visual-grid goldens for the Go Qwen2-VL encoder.

Runs in the same pinned environment as make_goldens.py (requirements.txt
beside this file) and reuses its tiny checkpoints, tokenizer and images from
encoder/qwen2vl/testdata without regenerating them. It writes:

  * testdata/videos/<clip>/frame_NNNN.png: deterministic frames (moving
    shapes), clips of 1, 3, 7, 9 and 64 frames at odd sizes;
  * testdata/video_goldens.json: token ids, grids, position ids and
    embeddings of prompts with videos (VLM2Vec's bare <|video_pad|> with 1-D
    positions; wrapped videos with M-RoPE; mixed batches of text, images and
    videos), and prompts that mix bare and wrapped visuals, whose M-RoPE
    positions depend on get_rope_index's choice of grid.

Frames are sampled as VLM2Vec's process_video_frames does (8 frames,
floor(linspace(0, n-1, 8)) when a clip has at least 8, all otherwise) and go
through Qwen2VLImageProcessor's video path (each frame resized to the size
smart_resize gives the first, odd counts padded with the last frame), the
processor VLM2Vec's Qwen2_VL_process_fn calls with videos=[frames].

    /tmp/venv/bin/python make_video_goldens.py
"""

import json
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageDraw
from transformers import Qwen2TokenizerFast, Qwen2VLImageProcessor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_goldens as mg  # noqa: E402  (ours: checkpoint loading, pooling, JSON style)

OUT = mg.DEFAULT_OUT
NUM_FRAMES = 8
CLIPS = {  # name -> (frames, width, height)
    "clip1_50x38": (1, 50, 38),
    "clip3_45x45": (3, 45, 45),
    "clip7_33x61": (7, 33, 61),
    "clip9_50x38": (9, 50, 38),
    "clip64_40x30": (64, 40, 30),
}


def make_clips():
    rs = np.random.RandomState(4321)
    for name, (n, w, h) in CLIPS.items():
        d = os.path.join(OUT, "videos", name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        base = rs.randint(0, 256, size=(3,))
        for i in range(n):
            y, x = np.mgrid[0:h, 0:w].astype(np.float64)
            arr = np.stack([base[0] + 60 * np.sin((x + 3 * i) / 6.0), 40 + 150 * y / max(h - 1, 1), base[2] + 50 * np.cos((y - 2 * i) / 5.0)], -1)
            arr = np.clip(np.rint(arr + rs.randint(-8, 9, size=arr.shape)), 0, 255).astype(np.uint8)
            im = Image.fromarray(arr, "RGB")
            dr = ImageDraw.Draw(im)
            cx = (i * 5) % w
            dr.ellipse([cx - 6, h * 0.3, cx + 6, h * 0.3 + 12], fill=(250, 240, 30))
            im.save(os.path.join(d, f"frame_{i:04d}.png"), optimize=True)


def sample(n):
    # VLM2Vec process_video_frames(num_frames=8).
    if n < NUM_FRAMES:
        return list(range(n))
    return np.linspace(0, n - 1, NUM_FRAMES, dtype=int).tolist()


def load_frames(clip):
    d = os.path.join(OUT, "videos", clip)
    names = sorted(os.listdir(d))
    idx = sample(len(names))
    frames = []
    for k in idx:
        with Image.open(os.path.join(d, names[k])) as im:
            frames.append(im.convert("RGB"))
    return frames, idx


def V(text, clip=None, *imgs):
    return {"text": text, "images": list(imgs), "video": clip}


VQ = "<|video_pad|> Understand the content of the provided video."
VQ2 = "<|video_pad|> Answer a question based on the content of a video. What is moving?"
IQ = "<|image_pad|> Represent the given image with the following question: what is this?"
TXT = "a red car"
MV = "<|vision_start|><|video_pad|><|vision_end|>Understand the content of the provided video."
MIV = "<|vision_start|><|image_pad|><|vision_end|> and <|vision_start|><|video_pad|><|vision_end|> match?"
MVI = "<|vision_start|><|video_pad|><|vision_end|> and <|vision_start|><|image_pad|><|vision_end|> match?"
MI = "<|vision_start|><|image_pad|><|vision_end|>Represent the given image with the following question: what is this?"
# get_rope_index counts one wrapped image (or video) here, then takes the
# earliest image run from the start: the bare first image gets 3-D
# positions with the first image grid; the wrapped image after it is
# positioned as text.
BARE_THEN_WRAPPED = "<|image_pad|> then <|vision_start|><|image_pad|><|vision_end|> compare"
# One wrapped image counted; the earliest image run is the wrapped one (the
# bare token is a video): the video is text, the image 3-D with grid 0.
BARE_VIDEO_THEN_IMAGE = "<|video_pad|> then <|vision_start|><|image_pad|><|vision_end|> compare"

CASES = [
    # (id, model, adapter, dtype, scheme, padding, rows)
    *[(f"video_1d_{c}", "tiny-a", None, torch.float32, "vlm2vec_1d", None, [V(VQ, c)]) for c in CLIPS],
    ("video_1d_question", "tiny-a", None, torch.float32, "vlm2vec_1d", None, [V(VQ2, "clip9_50x38")]),
    ("video_mixed_right", "tiny-a", None, torch.float32, "vlm2vec_1d", "right",
     [V(TXT), V(IQ, None, "photo_120x90"), V(VQ, "clip9_50x38"), V(VQ2, "clip3_45x45")]),
    ("video_mixed_left", "tiny-a", None, torch.float32, "vlm2vec_1d", "left",
     [V(TXT), V(IQ, None, "photo_120x90"), V(VQ, "clip9_50x38"), V(VQ2, "clip3_45x45")]),
    ("video_mrope_3", "tiny-a", None, torch.float32, "qwen2vl_mrope", None, [V(MV, "clip3_45x45")]),
    ("video_mrope_9", "tiny-a", None, torch.float32, "qwen2vl_mrope", None, [V(MV, "clip9_50x38")]),
    ("video_mrope_image_video", "tiny-a", None, torch.float32, "qwen2vl_mrope", None, [V(MIV, "clip7_33x61", "wide_300x40")]),
    ("video_mrope_video_image", "tiny-a", None, torch.float32, "qwen2vl_mrope", None, [V(MVI, "clip7_33x61", "wide_300x40")]),
    ("video_mrope_mixed_right", "tiny-a", None, torch.float32, "qwen2vl_mrope", "right",
     [V(TXT), V(MI, None, "photo_120x90"), V(MV, "clip64_40x30")]),
    ("grid_bare_then_wrapped", "tiny-a", None, torch.float32, "qwen2vl_mrope", None, [V(BARE_THEN_WRAPPED, None, "wide_300x40", "photo_120x90")]),
    ("grid_bare_then_wrapped_rev", "tiny-a", None, torch.float32, "qwen2vl_mrope", None, [V(BARE_THEN_WRAPPED, None, "photo_120x90", "wide_300x40")]),
    ("grid_bare_video_then_image", "tiny-a", None, torch.float32, "qwen2vl_mrope", None, [V(BARE_VIDEO_THEN_IMAGE, "clip3_45x45", "photo_120x90")]),
    ("video_1d_9_b", "tiny-b", None, torch.float32, "vlm2vec_1d", None, [V(VQ, "clip9_50x38")]),
    ("video_mrope_7_b", "tiny-b", None, torch.float32, "qwen2vl_mrope", None, [V(MV, "clip7_33x61")]),
    ("video_1d_lora", "tiny-a", "tiny-a-lora", torch.float32, "vlm2vec_1d", None, [V(VQ, "clip9_50x38")]),
    ("video_mixed_right_lora", "tiny-a", "tiny-a-lora", torch.float32, "vlm2vec_1d", "right",
     [V(TXT), V(IQ, None, "photo_120x90"), V(VQ, "clip9_50x38"), V(VQ2, "clip3_45x45")]),
    ("video_mixed_right", "tiny-a", None, torch.bfloat16, "vlm2vec_1d", "right",
     [V(TXT), V(IQ, None, "photo_120x90"), V(VQ, "clip9_50x38"), V(VQ2, "clip3_45x45")]),
]


def build(tok, ip, rows):
    ids, pv, thw, pvv, vthw, sampled = [], [], [], [], [], []
    merge = ip.merge_size ** 2
    for row in rows:
        text = row["text"]
        ims = [mg.vlm2vec_tiny_resize(mg.open_rgb(os.path.join(OUT, "images"), n + ".png"))[0] for n in row["images"]]
        if ims:
            r = ip(images=ims, return_tensors="np")
            parts = text.split("<|image_pad|>")
            assert len(parts) - 1 == len(ims), text
            text = parts[0] + "".join("<|image_pad|>" * int(np.prod(r["image_grid_thw"][k]) // merge) + parts[k + 1] for k in range(len(ims)))
            pv.append(torch.from_numpy(r["pixel_values"]).float())
            thw.append(torch.from_numpy(r["image_grid_thw"]).long())
        idx = None
        if row["video"]:
            frames, idx = load_frames(row["video"])
            r = ip(images=None, videos=[frames], return_tensors="np")
            g = r["video_grid_thw"]
            assert text.count("<|video_pad|>") == 1, text
            text = text.replace("<|video_pad|>", "<|video_pad|>" * int(np.prod(g[0]) // merge))
            pvv.append(torch.from_numpy(r["pixel_values_videos"]).float())
            vthw.append(torch.from_numpy(g).long())
        sampled.append(idx)
        ids.append(tok(text, add_special_tokens=True)["input_ids"])
    return ids, pv, thw, pvv, vthw, sampled


@torch.no_grad()
def run_case(model, core, tok, ip, rows, pad):
    ids, pv, thw, pvv, vthw, sampled = build(tok, ip, rows)
    tok.padding_side = pad or mg.DEFAULT_PADDING_SIDE
    padded = tok.pad({"input_ids": ids}, return_tensors="pt")
    tok.padding_side = mg.DEFAULT_PADDING_SIDE
    input_ids, mask = padded["input_ids"].long(), padded["attention_mask"].long()
    kw = dict(input_ids=input_ids, attention_mask=mask, output_hidden_states=True, use_cache=False, return_dict=True)
    igrid = torch.cat(thw) if thw else None
    vgrid = torch.cat(vthw) if vthw else None
    if pv:
        kw["pixel_values"], kw["image_grid_thw"] = torch.cat(pv).to(model.dtype), igrid
    if pvv:
        kw["pixel_values_videos"], kw["video_grid_thw"] = torch.cat(pvv).to(model.dtype), vgrid
    pos, deltas = core.model.get_rope_index(input_ids, igrid, vgrid, mask)
    out = model(**kw)
    hs = out.hidden_states[-1].float()
    idx = mg.vlm2vec_pool_index(mask)
    pooled = torch.stack([hs[i, j] for i, j in enumerate(idx)])
    emb = torch.nn.functional.normalize(pooled, p=2, dim=-1)
    return dict(input_ids=input_ids.tolist(), attention_mask=mask.tolist(),
                image_grid_thw=igrid.tolist() if igrid is not None else [],
                video_grid_thw=vgrid.tolist() if vgrid is not None else [],
                position_ids=pos.tolist(), rope_deltas=deltas.reshape(-1).tolist(), pooled_index=idx,
                pooled_hidden=mg.flist(pooled), embedding=mg.flist(emb)), sampled, emb


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    make_clips()
    cases, f32 = [], {}
    loaded = {}
    for cid, mname, adapter, dtype, scheme, pad, rows in CASES:
        path = os.path.join(OUT, mname)
        key = (mname, adapter, dtype)
        if key not in loaded:
            m = mg.load_adapter_model(path, os.path.join(OUT, adapter), dtype) if adapter else mg.load_model(path, dtype)
            loaded[key] = (m, mg.inner_model(m), Qwen2TokenizerFast.from_pretrained(path), Qwen2VLImageProcessor.from_pretrained(path))
        model, core, tok, ip = loaded[key]
        res, sampled, emb = run_case(model, core, tok, ip, rows, pad)
        dt = "float32" if dtype == torch.float32 else "bfloat16"
        full_id = f"{mname}{'+' + adapter.split('-')[-1] if adapter else ''}/{cid}" + ("" if dtype == torch.float32 else "/bf16")
        entry = {"id": full_id, "model": mname, "adapter": adapter, "dtype": dt, "position_scheme": scheme,
                 "padding_side": pad or mg.DEFAULT_PADDING_SIDE,
                 "rows": [dict(r, video_frames_sampled=s) for r, s in zip(rows, sampled)], **res}
        if dtype == torch.float32:
            f32[(mname, adapter, cid)] = emb
        else:
            ref = f32[(mname, adapter, cid)]
            entry["cosine_vs_float32"] = [float(c) for c in torch.nn.functional.cosine_similarity(emb, ref, dim=-1)]
        cases.append(entry)
    import PIL, transformers
    mg.write_json(os.path.join(OUT, "video_goldens.json"), {
        "schema": "qwen2vl-video-goldens/1",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "pillow": PIL.__version__, "numpy": np.__version__},
        "attn_implementation": "eager",
        "num_frames": NUM_FRAMES,
        "frame_sampling": "VLM2Vec process_video_frames: floor(linspace(0, n-1, 8)) when n >= 8, else all frames",
        "clips": {k: {"frames": v[0], "width": v[1], "height": v[2]} for k, v in CLIPS.items()},
        "cases": cases,
    })
    print("cases:", len(cases))


if __name__ == "__main__":
    main()
