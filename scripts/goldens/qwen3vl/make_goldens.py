#!/usr/bin/env python3
"""Qwen3-VL / Qwen3-VL-Embedding goldens for the Go encoder's qwen3vl family.

Builds a tiny random Qwen3-VL checkpoint (odd widths, three DeepStack
layers, 16-pixel patches) with transformers' Qwen3VLForConditionalGeneration
and runs the embedding recipe's own code on it: Qwen3VLEmbedder of the
Qwen3-VL-Embedding repository (src/models/qwen3_vl_embedding.py, imported from
--embedding-repo, never copied here), which drives qwen-vl-utils and
transformers' Qwen3VLProcessor / Qwen3VLModel. Writes under
encoder/qwen3vl/testdata:

  * tiny/: config.json, model.safetensors (the model.visual.* /
    model.language_model.* names a release uses), tokenizer files (the small
    BPE of the qwen2vl goldens, which carries Qwen's special tokens),
    preprocessor_config.json, video_preprocessor_config.json and the chat
    template of the released Qwen3-VL-*-Instruct checkpoints;
  * goldens.json: per case the inputs, the reference's rendered prompts,
    token ids, grids, decoder position ids and embeddings;
  * goldens.safetensors: the pixel values of the mixed case, as the uint8
    values they normalise (goldens.json holds a SHA-256 of every case's);
  * ../images/testdata/torch_resize_goldens.safetensors: torchvision's antialiased bicubic resize
    (the second stage of qwen-vl-utils' frame-list path) on random images.

Everything runs on CPU in float32 with eager attention, so the comparison is
exact up to float rounding.

    python3 -m venv /tmp/venvq3 && /tmp/venvq3/bin/pip install -r requirements.txt
    git clone https://github.com/QwenLM/Qwen3-VL-Embedding /tmp/q3e   # commit 8ce3aab
    /tmp/venvq3/bin/python make_goldens.py --embedding-repo /tmp/q3e
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TESTDATA = os.path.join(REPO, "encoder", "qwen3vl", "testdata")
Q2_TESTDATA = os.path.join(REPO, "encoder", "qwen2vl", "testdata")
SEED = 3003
WEIGHT_STD, EMBED_STD = 0.08, 0.5
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json"]

# The chat template the released Qwen3-VL-*-Instruct checkpoints ship (data
# of the checkpoint format, not code).
CHAT_TEMPLATE = (
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0].role == 'system' %}\n"
    "        {%- if messages[0].content is string %}\n            {{- messages[0].content }}\n"
    "        {%- else %}\n            {%- for content in messages[0].content %}\n"
    "                {%- if 'text' in content %}\n                    {{- content.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '\\n\\n' }}\n    {%- endif %}\n"
    "    {{- \"# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, "
    "\\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n"
    "{%- else %}\n    {%- if messages[0].role == 'system' %}\n        {{- '<|im_start|>system\\n' }}\n"
    "        {%- if messages[0].content is string %}\n            {{- messages[0].content }}\n"
    "        {%- else %}\n            {%- for content in messages[0].content %}\n"
    "                {%- if 'text' in content %}\n                    {{- content.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n"
    "{%- set image_count = namespace(value=0) %}\n{%- set video_count = namespace(value=0) %}\n"
    "{%- for message in messages %}\n    {%- if message.role == \"user\" %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' }}\n        {%- if message.content is string %}\n"
    "            {{- message.content }}\n        {%- else %}\n            {%- for content in message.content %}\n"
    "                {%- if content.type == 'image' or 'image' in content or 'image_url' in content %}\n"
    "                    {%- set image_count.value = image_count.value + 1 %}\n"
    "                    {%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}\n"
    "                    <|vision_start|><|image_pad|><|vision_end|>\n"
    "                {%- elif content.type == 'video' or 'video' in content %}\n"
    "                    {%- set video_count.value = video_count.value + 1 %}\n"
    "                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}\n"
    "                    <|vision_start|><|video_pad|><|vision_end|>\n"
    "                {%- elif 'text' in content %}\n                    {{- content.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' }}\n        {%- if message.content is string %}\n"
    "            {{- message.content }}\n        {%- else %}\n            {%- for content_item in message.content %}\n"
    "                {%- if 'text' in content_item %}\n                    {{- content_item.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n    {%- endif %}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"
)


def config_dict(tok):
    ids = {t: tok.convert_tokens_to_ids(t) for t in ["<|endoftext|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]}
    return {
        "architectures": ["Qwen3VLForConditionalGeneration"],
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "model_type": "qwen3_vl",
        "tie_word_embeddings": True,
        "transformers_version": transformers.__version__,
        "text_config": {
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "dtype": "float32",
            "head_dim": 14,  # not hidden/heads: Qwen3 sets it on its own
            "hidden_act": "silu",
            "hidden_size": 40,
            "initializer_range": 0.02,
            "intermediate_size": 88,
            "max_position_embeddings": 262144,
            "model_type": "qwen3_vl_text",
            "num_attention_heads": 4,
            "num_hidden_layers": 4,
            "num_key_value_heads": 2,
            "rms_norm_eps": 1e-06,
            "rope_scaling": {"mrope_interleaved": True, "mrope_section": [3, 2, 2], "rope_type": "default"},
            "rope_theta": 5000000,
            "use_cache": True,
            "vocab_size": 960,
        },
        "vision_config": {
            "deepstack_visual_indexes": [0, 1, 3],
            "depth": 4,
            "hidden_act": "gelu_pytorch_tanh",
            "hidden_size": 36,
            "in_channels": 3,
            "initializer_range": 0.02,
            "intermediate_size": 76,
            "model_type": "qwen3_vl",
            "num_heads": 3,
            "num_position_embeddings": 49,  # a 7x7 table, interpolated to each image's grid
            "out_hidden_size": 40,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
    }


def init_weights(model):
    # Larger than transformers' default std, so activations and attention
    # are far from degenerate and numeric mistakes show.
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if "norm" in name and p.ndim == 1 and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("bias"):
                p.copy_(0.05 * r)
            elif "embed_tokens" in name:
                p.copy_(EMBED_STD * r)
            elif "pos_embed" in name:
                p.copy_(0.3 * r)
            else:
                p.copy_(WEIGHT_STD * r)


def save_random_model(cfg, path, attn=None):
    """A Qwen3-VL of config dict cfg with init_weights' random weights:
    path/model.safetensors and path/config.json (cfg as given)."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    config = Qwen3VLConfig.from_dict(cfg)
    if attn:
        config._attn_implementation = attn
    model = Qwen3VLForConditionalGeneration(config).eval()
    init_weights(model)
    model.tie_weights()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copyfile(os.path.join(tmp, "model.safetensors"), os.path.join(path, "model.safetensors"))
    write_pretty(os.path.join(path, "config.json"), cfg)


def make_checkpoint():
    from transformers import Qwen2TokenizerFast

    path = os.path.join(TESTDATA, "tiny")
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    for fn in TOKENIZER_FILES:
        shutil.copy(os.path.join(Q2_TESTDATA, "tiny-a", fn), path)
    tok = Qwen2TokenizerFast.from_pretrained(path)
    cfg = config_dict(tok)
    save_random_model(cfg, path, attn="eager")
    # As the released Qwen3-VL checkpoints' processor files.
    common = {"patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5, 0.5, 0.5],
              "image_std": [0.5, 0.5, 0.5], "processor_class": "Qwen3VLProcessor"}
    write_pretty(os.path.join(path, "preprocessor_config.json"),
                 {**common, "size": {"longest_edge": 16777216, "shortest_edge": 65536}, "image_processor_type": "Qwen2VLImageProcessorFast"})
    write_pretty(os.path.join(path, "video_preprocessor_config.json"),
                 {**common, "size": {"longest_edge": 25165824, "shortest_edge": 4096}, "video_processor_type": "Qwen3VLVideoProcessor"})
    write_pretty(os.path.join(path, "chat_template.json"), {"chat_template": CHAT_TEMPLATE})
    return path


def write_pretty(fn, obj):
    with open(fn, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


class Recorder:
    """Records what the reference feeds the processor and the decoder."""

    def __init__(self, emb):
        self.calls = []
        proc = emb.processor
        orig_call = proc.__call__

        def proc_call(*a, **kw):
            out = orig_call(*a, **kw)
            self.calls.append({"text": kw.get("text"), "out": out})
            return out

        emb.processor = Proxy(proc, proc_call)
        inner = emb.model.model
        orig_rope = inner.get_rope_index

        def rope(*a, **kw):
            pos, deltas = orig_rope(*a, **kw)
            self.calls[-1]["positions"] = pos
            return pos, deltas

        inner.get_rope_index = rope


class Proxy:
    def __init__(self, inner, fn):
        self._inner, self._fn = inner, fn

    def __call__(self, *a, **kw):
        return self._fn(*a, **kw)

    def __getattr__(self, k):
        return getattr(self._inner, k)


def img_path(fn):
    return os.path.join(Q2_TESTDATA, "images", fn)


def frame_paths(clip):
    d = os.path.join(Q2_TESTDATA, "videos", clip)
    return [os.path.join(d, f) for f in sorted(os.listdir(d))]


def rel(p):
    return os.path.relpath(p, TESTDATA)


CASES = [
    # name, embedder kwargs override, inputs
    ("text", {}, [
        {"text": "A dog runs on the beach.", "instruction": "Retrieve a matching caption"},
        {"text": "cat"},
        {"text": "  Two words  ", "instruction": "   "},
        {"text": "¿Dónde está la biblioteca? The quick brown fox jumps over the lazy dog again and again.", "instruction": "Find the answer!"},
        {"text": ["first part,", " second part"], "instruction": "Represent this:"},
    ]),
    ("images", {}, [
        {"image": img_path("photo_120x90.png"), "instruction": "Find a similar photo"},
        {"image": img_path("alpha_64x48.png")},
        {"image": img_path("tiny_10x7.png"), "text": "a tiny image"},
        {"image": img_path("tall_40x260.png"), "text": "tall", "instruction": "Describe"},
        {"image": [img_path("big_500x333.png"), img_path("wide_300x40.png")], "text": "two images"},
    ]),
    ("videos", {"max_frames": 6}, [
        {"video": frame_paths("clip7_33x61"), "text": "what happens", "instruction": "Retrieve the video"},
        {"video": frame_paths("clip64_40x30")},
        {"video": frame_paths("clip3_45x45"), "image": img_path("photo_120x90.png"), "text": "both"},
    ]),
    ("mixed", {"max_frames": 4}, [
        {"text": "only words here"},
        {"image": img_path("photo_120x90.png"), "text": "an image", "instruction": "Match"},
        {"video": frame_paths("clip7_33x61")},
        {"image": img_path("tall_40x260.png")},
    ]),
]


def jsonable_input(inp):
    out = {}
    for k, v in inp.items():
        if k == "image":
            out[k] = [rel(p) for p in (v if isinstance(v, list) else [v])]
        elif k == "video":
            out[k] = [rel(p) for p in v]
        elif k == "text":
            out[k] = v if isinstance(v, list) else [v]
        else:
            out[k] = v
    return out


def run_cases(embedder_cls, path):
    golden = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": []}
    tensors = {}
    for name, kw, inputs in CASES:
        emb = embedder_cls(path, dtype=torch.float32, attn_implementation="eager", **kw)
        rec = Recorder(emb)
        with torch.no_grad():
            e = emb.process(inputs).float()
        call = rec.calls[-1]
        out = call["out"]
        ids, mask = out["input_ids"], out["attention_mask"]
        rows = []
        for i in range(len(inputs)):
            n = int(mask[i].sum())
            rows.append({
                "input": jsonable_input(inputs[i]),
                "prompt": call["text"][i],
                "ids": ids[i, :n].tolist(),
                "positions": call["positions"][:, i, :n].tolist(),
                "embedding": e[i].tolist(),
            })
        case = {"name": name, "embedder": kw, "rows": rows}
        for key in ["image_grid_thw", "video_grid_thw"]:
            if key in out:
                case[key] = out[key].tolist()
        for key in ["pixel_values", "pixel_values_videos"]:
            if key in out:
                # mean = std = 0.5, so every value is (v - 127.5) / 127.5 of a
                # uint8 v: the uint8 planes are the whole information.
                px = out[key].float()
                u8 = torch.round(px * 127.5 + 127.5).to(torch.uint8)
                assert torch.equal(((u8.float() - 127.5) / 127.5), px), key
                case[key + "_sha256"] = hashlib.sha256(u8.numpy().tobytes()).hexdigest()
                if name == "mixed":
                    tensors[f"{name}.{key}"] = u8.contiguous()
        golden["cases"].append(case)
        print(name, "ok", e.shape, file=sys.stderr)
    return golden, tensors


def resize_goldens():
    """torchvision's antialiased bicubic resize of uint8 images, as
    qwen-vl-utils calls it on frame lists (then rounds back to uint8)."""
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode

    g = np.random.default_rng(SEED)
    out = {}
    sizes = [((64, 96), (160, 224)), ((96, 64), (224, 160)), ((32, 32), (96, 88)), ((150, 100), (48, 32)),
             ((57, 91), (33, 160)), ((40, 30), (40, 61)), ((64, 64), (64, 48))]
    for k, ((h, w), (oh, ow)) in enumerate(sizes):
        a = g.integers(0, 256, size=(2, 3, h, w), dtype=np.uint8)
        if k % 2 == 1:  # smoother content as well as noise
            a = np.clip(np.cumsum(a.astype(np.int32), axis=3) // (np.arange(1, w + 1)), 0, 255).astype(np.uint8)
        t = torch.from_numpy(a)
        r = transforms.functional.resize(t, [oh, ow], interpolation=InterpolationMode.BICUBIC, antialias=True)
        out[f"{k}.in"] = t.contiguous()
        out[f"{k}.out"] = r.contiguous()
    save_file(out, os.path.join(REPO, "encoder", "images", "testdata", "torch_resize_goldens.safetensors"))


def write_json(fn, obj):
    # One row per line keeps diffs of regenerated goldens readable.
    with open(fn, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def bench_checkpoint(out):
    """qwen3vl-slice: Qwen3-VL-2B's widths with 2 decoder layers and 3
    vision blocks (2 DeepStack levels), random weights, the tiny tokenizer,
    for scripts/bench/run.sh."""
    from transformers import Qwen2TokenizerFast

    path = os.path.join(out, "qwen3vl-slice")
    os.makedirs(path, exist_ok=True)
    tiny = os.path.join(TESTDATA, "tiny")
    for fn in TOKENIZER_FILES + ["preprocessor_config.json", "video_preprocessor_config.json", "chat_template.json"]:
        shutil.copy(os.path.join(tiny, fn), path)
    cfg = config_dict(Qwen2TokenizerFast.from_pretrained(path))
    cfg["text_config"].update({"head_dim": 128, "hidden_size": 2048, "intermediate_size": 6144, "num_attention_heads": 16,
                               "num_hidden_layers": 2, "num_key_value_heads": 8,
                               "rope_scaling": {"mrope_interleaved": True, "mrope_section": [24, 20, 20], "rope_type": "default"}})
    cfg["vision_config"].update({"deepstack_visual_indexes": [1, 2], "depth": 3, "hidden_size": 1024, "intermediate_size": 4096,
                                 "num_heads": 16, "num_position_embeddings": 2304, "out_hidden_size": 2048})
    save_random_model(cfg, path)
    print("wrote", path, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedding-repo", help="a checkout of QwenLM/Qwen3-VL-Embedding (for the goldens)")
    ap.add_argument("--bench-out", help="write only the qwen3vl-slice benchmark checkpoint under this directory")
    args = ap.parse_args()
    if args.bench_out:
        bench_checkpoint(args.bench_out)
        return
    if not args.embedding_repo:
        ap.error("--embedding-repo is required to write the goldens")
    sys.path.insert(0, os.path.join(args.embedding_repo, "src"))
    from models.qwen3_vl_embedding import Qwen3VLEmbedder

    os.makedirs(TESTDATA, exist_ok=True)
    torch.manual_seed(SEED)
    path = make_checkpoint()
    golden, tensors = run_cases(Qwen3VLEmbedder, path)
    write_json(os.path.join(TESTDATA, "goldens.json"), golden)
    save_file(tensors, os.path.join(TESTDATA, "goldens.safetensors"))
    resize_goldens()


if __name__ == "__main__":
    main()
