#!/usr/bin/env python3
"""PyTorch side of the benchmarks: the same inputs, checkpoints and batch
sizes as encoder/bench_test.go and gradcache/bench_test.go, through Hugging
Face transformers (Qwen2VLForConditionalGeneration, eager attention).

Each call prints one JSON object on stdout. scripts/bench/run.sh calls this
alternately with the Go benchmarks and writes docs/BENCHMARKS.md.

  bench_torch.py info
  bench_torch.py embed --ckpt DIR --kind text|image [--dtype f32|bf16] [--iters N] [--rows N]
  bench_torch.py step  --ckpt DIR --batch N --mode gradcache|fullbatch [--chunk 8] [--iters N]
  bench_torch.py stream --ckpt DIR --stream FILE --mode all|by8|single|long [--iters N]

embed: 8 inputs in one batch per iteration, end to end from decoded images:
V1 prompt, Qwen2VLImageProcessor (the PIL one, use_fast=False) per row as
VLM2Vec's collator does, the fast (Rust) tokenizer, right padding, the inner
Qwen2VLModel (no LM head), the final-norm hidden state of each row's last
real token, L2-normalised.

The family slices (llava-slice, phi3v-slice: config.json's model_type
says which) run the same way through LlavaNextForConditionalGeneration's
inner model, and through the Phi-3-V code VLM2Vec vendors ($VLM2VEC_SRC, a
VLM2Vec checkout; Phi3VModel, Phi3VProcessor with the checkpoint's
num_crops), each with its placeholder in the V1 prompt.

step: queries = images + instruction (min/max pixels 3136/12544, so
224x224 -> 112x112), targets = caption texts, LoRA r 8 / alpha 16 /
dropout 0.1 (gaussian init) via PEFT on VLM2Vec's target modules, InfoNCE
at temperature 0.02, AdamW (eps 1e-8, no weight decay) after global-norm
clipping at 1.0. gradcache = the two-pass algorithm (no-grad embedding of
every chunk, loss gradient w.r.t. the embeddings, chunk-wise re-forward with
the surrogate sum(emb * grad) and backward, the CPU RNG state replayed per
chunk so dropout matches); fullbatch = every chunk's forward kept in one
autograd graph and the loss back-propagated once. Peak memory: the rise of
VmHWM over VmRSS (reset through /proc/self/clear_refs after gc.collect() and
malloc_trim) during one step, the same method as the Go side's peak-rss-MB.
"""

import argparse
import ctypes
import gc
import json
import os
import platform
import statistics
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))

import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE_TOKEN = "<|image_pad|>"


def load_inputs(kind, images_dir):
    with open(os.path.join(HERE, "inputs.json")) as f:
        rows = json.load(f)[kind]
    out = []
    for r in rows:
        img = None
        if r.get("image"):
            img = Image.open(os.path.join(images_dir, r["image"])).convert("RGB")
            img.load()
        out.append((r["instruction"], r.get("text", ""), img))
    return out


def v1_prompt(instruction, text, has_image):
    s = (IMAGE_TOKEN + "\n") if has_image else ""
    s += instruction
    if text:
        s += " " + text
    return s + "\n"


class Embedder:
    def __init__(self, ckpt, dtype, min_pixels=None, max_pixels=None, train=False):
        self.tok = AutoTokenizer.from_pretrained(ckpt)
        kw = {}
        if min_pixels:
            kw = dict(min_pixels=min_pixels, max_pixels=max_pixels)
        self.ip = Qwen2VLImageProcessor.from_pretrained(ckpt, **kw)
        # BENCH_DEVICE=cuda and BENCH_ATTN=sdpa are for the GPU run (scripts/gpu).
        self.device = torch.device(os.environ.get("BENCH_DEVICE", "cpu"))
        attn = os.environ.get("BENCH_ATTN", "eager")
        self.model = Qwen2VLForConditionalGeneration.from_pretrained(ckpt, torch_dtype=dtype, attn_implementation=attn).to(self.device)
        self.model.train(train)
        self.dtype = dtype
        self.pad_id = self.tok.convert_tokens_to_ids("<|endoftext|>")

    def prepare(self, rows):
        """Tokenize and process rows into one right-padded batch."""
        ids, pvs, thws = [], [], []
        for instruction, text, img in rows:
            prompt = v1_prompt(instruction, text, img is not None)
            if img is not None:
                res = self.ip(images=[img], return_tensors="pt")
                grid = res["image_grid_thw"]
                n = int(grid.prod()) // (self.ip.merge_size**2)
                prompt = prompt.replace(IMAGE_TOKEN, IMAGE_TOKEN * n)
                pvs.append(res["pixel_values"])
                thws.append(grid)
            ids.append(self.tok(prompt, add_special_tokens=True)["input_ids"])
        L = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), L), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), L), dtype=torch.long)
        for i, x in enumerate(ids):
            input_ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if pvs:
            batch["pixel_values"] = torch.cat(pvs, 0).to(self.dtype)
            batch["image_grid_thw"] = torch.cat(thws, 0)
        return batch

    def forward(self, batch):
        # The inner Qwen2VLModel: vision tower + decoder + final norm, no LM head.
        batch = {k: v.to(self.device) for k, v in batch.items()}
        out = self.model.model(**batch, use_cache=False, return_dict=True)
        hs = out.last_hidden_state
        last = batch["attention_mask"].sum(1) - 1
        pooled = hs[torch.arange(hs.shape[0], device=hs.device), last].float()
        emb = torch.nn.functional.normalize(pooled, p=2, dim=-1)
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # time the work, not its launch
        return emb


class LlavaEmbedder:
    """LLaVA-NeXT: LlavaNextProcessor per row, right padding, the inner model."""

    def __init__(self, ckpt, dtype):
        from transformers import LlavaNextForConditionalGeneration, LlavaNextProcessor

        self.proc = LlavaNextProcessor.from_pretrained(ckpt)
        self.model = LlavaNextForConditionalGeneration.from_pretrained(ckpt, torch_dtype=dtype, attn_implementation="eager").eval()
        self.dtype = dtype

    def prepare(self, rows):
        ids, pvs, sizes = [], [], []
        for instruction, text, img in rows:
            prompt = v1_prompt(instruction, text, img is not None).replace(IMAGE_TOKEN, "<image>")
            out = self.proc(text=[prompt], images=[img] if img is not None else None, return_tensors="pt")
            ids.append(out["input_ids"][0])
            if img is not None:
                pvs.append(out["pixel_values"][0])
                sizes.append(out["image_sizes"][0])
        batch = pad_right(ids, self.proc.tokenizer.pad_token_id)
        if pvs:
            n = max(p.shape[0] for p in pvs)
            pv = torch.zeros((len(pvs), n) + tuple(pvs[0].shape[1:]), dtype=self.dtype)
            for k, p in enumerate(pvs):
                pv[k, : p.shape[0]] = p
            batch["pixel_values"], batch["image_sizes"] = pv, torch.stack(sizes)
        return batch

    def forward(self, batch):
        out = self.model.model(**batch, use_cache=False, return_dict=True)
        return pool(out.last_hidden_state, batch["attention_mask"])


class Phi3VEmbedder:
    """Phi-3-V: VLM2Vec's Phi3V_process_fn (processor call per row, right
    padding), the vendored Phi3VModel."""

    def __init__(self, ckpt, dtype):
        src = os.environ.get("VLM2VEC_SRC")
        if not src:
            sys.exit("phi3_v rows need VLM2VEC_SRC: a checkout of TIGER-AI-Lab/VLM2Vec (the vendored Phi-3-V code)")
        sys.path.insert(0, os.path.join(src, "src", "model", "baseline_backbone"))
        from phi3_v import image_embedding_phi3_v as emb
        from phi3_v.configuration_phi3_v import Phi3VConfig
        from phi3_v.image_processing_phi3_v import Phi3VImageProcessor
        from phi3_v.modeling_phi3_v import Phi3VForCausalLM
        from phi3_v.processing_phi3_v import Phi3VProcessor
        from transformers import CLIPVisionConfig

        config = Phi3VConfig.from_pretrained(ckpt)
        clip = config.img_processor.get("clip_vision_config")
        if clip:  # a slice of CLIP ViT-L (fewer layers): what the reference hard-codes, resized
            emb.CLIP_VIT_LARGE_PATCH14_336_CONFIG = CLIPVisionConfig(**clip)
        config._attn_implementation = "eager"
        self.model = Phi3VForCausalLM.from_pretrained(ckpt, config=config, torch_dtype=dtype).eval()
        with open(os.path.join(ckpt, "preprocessor_config.json")) as f:
            crops = json.load(f)["num_crops"]
        self.proc = Phi3VProcessor(image_processor=Phi3VImageProcessor(num_crops=crops, num_img_tokens=144),
                                   tokenizer=AutoTokenizer.from_pretrained(ckpt))
        self.dtype = dtype

    def prepare(self, rows):
        ids, pvs, sizes = [], [], []
        for instruction, text, img in rows:
            prompt = v1_prompt(instruction, text, img is not None).replace(IMAGE_TOKEN, "<|image_1|>")
            if img is not None:
                out = self.proc(text=prompt, images=[img], return_tensors="pt")
                pvs.append(out["pixel_values"].to(self.dtype))
                sizes.append(out["image_sizes"])
            else:
                out = self.proc(prompt, None, return_tensors="pt")
                pvs.append(None)
                sizes.append(None)
            ids.append(out["input_ids"][0])
        batch = pad_right(ids, self.proc.tokenizer.pad_token_id)
        if any(p is not None for p in pvs):
            batch["pixel_values"], batch["image_sizes"] = pvs, sizes
        else:
            batch["pixel_values"], batch["image_sizes"] = torch.zeros(len(rows), 1), torch.ones(len(rows), 1)
        return batch

    def forward(self, batch):
        out = self.model.model(**batch, use_cache=False, return_dict=True)
        return pool(out.last_hidden_state, batch["attention_mask"])


def pad_right(ids, pad_id):
    L = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), L), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.as_tensor(x)
        mask[i, : len(x)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def pool(hs, mask):
    last = mask.sum(1) - 1
    pooled = hs[torch.arange(hs.shape[0]), last].float()
    return torch.nn.functional.normalize(pooled, p=2, dim=-1)


class Qwen3VLEmbedder:
    """Qwen3-VL with Qwen3-VL-Embedding's recipe, as its embedder runs it:
    the chat template with the instruction as system turn, qwen-vl-utils'
    image resize, Qwen3VLProcessor with do_resize=False and right padding,
    Qwen3VLModel, last-token pooling. Needs transformers >= 4.57 and
    qwen-vl-utils (scripts/goldens/qwen3vl/requirements.txt; run.sh passes
    QWEN3_PYTHON for these rows)."""

    def __init__(self, ckpt, dtype):
        import unicodedata

        from transformers import Qwen3VLModel, Qwen3VLProcessor

        self.unicodedata = unicodedata
        self.proc = Qwen3VLProcessor.from_pretrained(ckpt, padding_side="right")
        self.model = Qwen3VLModel.from_pretrained(ckpt, dtype=dtype, attn_implementation="eager").eval()

    def system(self, instruction):
        s = (instruction or "").strip()
        if s and not self.unicodedata.category(s[-1]).startswith("P"):
            s += "."
        return s or "Represent the user's input."

    def prepare(self, rows):
        from qwen_vl_utils.vision_process import process_vision_info

        convs = []
        for instruction, text, img in rows:
            content = []
            if img is not None:
                content.append({"type": "image", "image": img, "min_pixels": 4 * 32 * 32, "max_pixels": 1800 * 32 * 32})
            content.append({"type": "text", "text": text})
            convs.append([{"role": "system", "content": [{"type": "text", "text": self.system(instruction)}]},
                          {"role": "user", "content": content}])
        prompts = self.proc.apply_chat_template(convs, add_generation_prompt=True, tokenize=False)
        images, _ = process_vision_info(convs, image_patch_size=16)
        return dict(self.proc(text=prompts, images=images, padding=True, do_resize=False, return_tensors="pt"))

    def forward(self, batch):
        out = self.model(**batch, use_cache=False, return_dict=True)
        return pool(out.last_hidden_state, batch["attention_mask"])


def embedder_for(ckpt, dtype):
    with open(os.path.join(ckpt, "config.json")) as f:
        model_type = json.load(f).get("model_type")
    if model_type == "llava_next":
        return LlavaEmbedder(ckpt, dtype)
    if model_type == "phi3_v":
        return Phi3VEmbedder(ckpt, dtype)
    if model_type == "qwen3_vl":
        return Qwen3VLEmbedder(ckpt, dtype)
    return Embedder(ckpt, dtype)


def cmd_info(_):
    blas = [line.strip() for line in torch.__config__.show().splitlines() if "BLAS_INFO" in line or "Math Kernel" in line or "OpenBLAS" in line]
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "python": platform.python_version(),
                "threads": torch.get_num_threads(),
                "blas": [b.split("BLAS_INFO=")[1].split(",")[0] if "BLAS_INFO=" in b else b.lstrip("- ") for b in blas],
                "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            }
        )
    )


def cmd_embed(args):
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    e = embedder_for(args.ckpt, dtype)
    rows = load_inputs(args.kind, args.images)
    if args.rows:
        rows = rows[: args.rows]
    times, prep = [], []
    with torch.inference_mode():
        b = e.prepare(rows)
        tokens = int(b["attention_mask"].sum())
        padded = int(b["attention_mask"].numel())
        e.forward(b)  # warm-up
        for _ in range(args.iters):
            t0 = time.perf_counter()
            b = e.prepare(rows)
            t1 = time.perf_counter()
            emb = e.forward(b)
            t2 = time.perf_counter()
            times.append(t2 - t0)
            prep.append(t1 - t0)
    assert emb.shape[0] == len(rows)
    if args.save:
        # The embeddings of the last iteration, for BenchmarkEmbed's
        # VLM2VEC_BENCH_REFERENCE check.
        with open(args.save, "w") as f:
            json.dump(emb.float().tolist(), f)
    mean = statistics.mean(times)
    print(
        json.dumps(
            {
                "kind": args.kind,
                "dtype": args.dtype,
                "ckpt": os.path.basename(os.path.normpath(args.ckpt)),
                "iters": args.iters,
                "s_per_batch_mean": mean,
                "s_per_batch_median": statistics.median(times),
                "s_preprocess_mean": statistics.mean(prep),
                "items_per_s": len(rows) / mean,
                "tokens_per_s": tokens / mean,
                "tokens": tokens,
                "padded_tokens": padded,
            }
        )
    )


def cmd_stream(args):
    """The 64-input mixed stream of BenchmarkEmbedStreams (written by it with
    VLM2VEC_BENCH_STREAM_OUT) handed over as all / by8 / single: all sorts the
    stream by text length and embeds batches of 8 (what
    sentence-transformers' encode does), by8 embeds batches of 8 in stream
    order, single one input per call; long embeds one 800-word text and
    reports the rise of the peak resident set."""
    e = embedder_for(args.ckpt, torch.float32)
    with open(args.stream) as f:
        spec = json.load(f)
    rows = []
    for r in spec:
        img = None
        if r.get("image"):
            img = Image.open(r["image"]).convert("RGB")
            img.load()
        rows.append((r["instruction"], r.get("text", ""), img))
    if args.mode == "long":
        row = [("", " ".join(["word"] * 800), None)]
        with torch.inference_mode():
            e.forward(e.prepare(row))  # warm-up
            base = reset_peak()
            e.forward(e.prepare(row))
            peak = (status_kb("VmHWM") - base) / 1024
        print(json.dumps({"mode": "long", "peak_rss_mb": peak}))
        return
    if args.mode == "all":
        # sentence-transformers sorts by text length (characters), not tokens.
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]) + len(rows[i][1]))
        calls = [[rows[i] for i in order[k:k + 8]] for k in range(0, len(rows), 8)]
    elif args.mode == "by8":
        calls = [rows[k:k + 8] for k in range(0, len(rows), 8)]
    else:
        calls = [[r] for r in rows]
    times = []
    with torch.inference_mode():
        for c in calls:  # warm-up
            e.forward(e.prepare(c))
        for _ in range(args.iters):
            t0 = time.perf_counter()
            for c in calls:
                e.forward(e.prepare(c))
            times.append(time.perf_counter() - t0)
    best = min(times)
    print(json.dumps({"mode": args.mode, "iters": args.iters, "s_per_stream_min": best,
                      "s_per_stream_mean": statistics.mean(times), "items_per_s": len(rows) / best}))


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak():
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status_kb("VmRSS")


VLM2VEC_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj", "gate_proj", "up_proj"]


def info_nce(q, t, temperature=0.02):
    logits = q @ t.T / temperature
    return torch.nn.functional.cross_entropy(logits, torch.arange(q.shape[0], device=q.device))


def rng_state(device):
    """The RNG state dropout draws from: the CPU generator, plus the GPU's on CUDA."""
    return (torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def set_rng_state(device, state):
    torch.set_rng_state(state[0])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state[1], device)


def cmd_step(args):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    e = Embedder(args.ckpt, torch.float32, min_pixels=3136, max_pixels=12544, train=True)
    cfg = LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.1, init_lora_weights="gaussian", target_modules=VLM2VEC_TARGETS, bias="none"
    )
    pm = get_peft_model(e.model, cfg)
    pm.train()
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, eps=1e-8, weight_decay=0.0)

    images = load_inputs("image", args.images)
    texts = load_inputs("text", args.images)
    qs = [images[i % len(images)] for i in range(args.batch)]
    ts = [texts[i % len(texts)] for i in range(args.batch)]
    qc = [e.prepare(qs[i : i + args.chunk]) for i in range(0, args.batch, args.chunk)]
    tc = [e.prepare(ts[i : i + args.chunk]) for i in range(0, args.batch, args.chunk)]

    def gradcache_step():
        reps, states = [], []
        with torch.no_grad():
            for chunks in (qc, tc):
                r, s = [], []
                for c in chunks:
                    s.append(rng_state(e.device))
                    r.append(e.forward(c))
                reps.append(torch.cat(r))
                states.append(s)
        q = reps[0].requires_grad_()
        t = reps[1].requires_grad_()
        loss = info_nce(q, t)
        loss.backward()
        for chunks, grad, s in ((qc, q.grad, states[0]), (tc, t.grad, states[1])):
            off = 0
            for c, st in zip(chunks, s):
                set_rng_state(e.device, st)
                emb = e.forward(c)
                (emb * grad[off : off + emb.shape[0]]).sum().backward()
                off += emb.shape[0]
        return loss

    def fullbatch_step():
        q = torch.cat([e.forward(c) for c in qc])
        t = torch.cat([e.forward(c) for c in tc])
        loss = info_nce(q, t)
        loss.backward()
        return loss

    step = gradcache_step if args.mode == "gradcache" else fullbatch_step

    cuda = e.device.type == "cuda"

    def one():
        loss = step()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        v = loss.detach().item()  # .item() waits for the device
        if cuda:
            torch.cuda.synchronize()
        return v

    t0 = time.perf_counter()
    one()  # warm-up
    first = time.perf_counter() - t0
    times, peaks, gpu_peaks = [], [], []
    for _ in range(args.iters):
        base = reset_peak()
        if cuda:
            torch.cuda.reset_peak_memory_stats(e.device)
        t0 = time.perf_counter()
        one()
        times.append(time.perf_counter() - t0)
        peaks.append((status_kb("VmHWM") - base) / 1024)
        if cuda:
            gpu_peaks.append(torch.cuda.max_memory_allocated(e.device) / 2**20)
    mean = statistics.mean(times)
    print(
        json.dumps(
            {
                "mode": args.mode,
                "batch": args.batch,
                "chunk": args.chunk,
                "iters": args.iters,
                "s_per_step_mean": mean,
                "s_per_step_median": statistics.median(times),
                "examples_per_s": 2 * args.batch / mean,
                "peak_rss_mb": max(peaks),
                "peak_gpu_mb": max(gpu_peaks) if gpu_peaks else None,
                "first_step_s": first,
                "trainable_params": sum(p.numel() for p in params),
            }
        )
    )


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info")
    default_images = os.path.join(HERE, "..", "..", ".cache", "bench", "images")
    p = sub.add_parser("embed")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--kind", choices=["text", "image"], required=True)
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--rows", type=int, default=0, help="embed only the first N inputs (0: all 8)")
    p.add_argument("--images", default=default_images)
    p.add_argument("--save", help="write the embeddings as a JSON list of vectors")
    p = sub.add_parser("step")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--mode", choices=["gradcache", "fullbatch"], required=True)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--images", default=default_images)
    p = sub.add_parser("stream")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--stream", required=True, help="the JSON list BenchmarkEmbedStreams writes (VLM2VEC_BENCH_STREAM_OUT)")
    p.add_argument("--mode", choices=["all", "by8", "single", "long"], required=True)
    p.add_argument("--iters", type=int, default=3)
    args = ap.parse_args()
    {"info": cmd_info, "embed": cmd_embed, "step": cmd_step, "stream": cmd_stream}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
