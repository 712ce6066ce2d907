#!/usr/bin/env python3
"""Writes the tokenizer golden files from the official Hugging Face tokenizers.

For every tokenizer directory under the tokenizers dir (see
scripts/fetch_tokenizers.sh) it writes encoder/tokenizer/testdata/
golden_<name>.jsonl.gz: a header line, then one line per case:

  {"t": text, "ids": encode(text, add_special_tokens=True).ids,
   "ids0": encode(text, add_special_tokens=False).ids,
   "d": decode(ids, skip_special_tokens=False), "ds": decode(ids, True)}

and, for decoder coverage, cases {"dec": ids, "d": ..., "ds": ...} that
decode random id sequences (partial UTF-8, byte tokens, specials, unknown ids).

The common string corpus is generated deterministically (fixed seed) and
also written to testdata/strings.jsonl.gz; each tokenizer adds cases for its
own added tokens. Reference: pip install tokenizers (PyPI, the Rust library).

Usage: make_goldens.py [--dir .cache/tokenizers] [--out encoder/tokenizer/testdata] [names...]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer

SEED = 20261127
N_RANDOM_DECODES = 400
# Decoding random ids writes vocabulary pieces into the committed goldens;
# only do it for permissively licensed vocabularies (Qwen, Mistral:
# Apache-2.0), not for Llama 3 (community licence) or Gemma (terms of use).
NO_RANDOM_DECODES = {"llama3", "gemma3"}

# ---------------------------------------------------------------- corpus

MMEB = [
    "<|image_pad|>\nRepresent the given image with the following question: what is the date mentioned in this letter?\n",
    "<|image_1|>\nRepresent the given image with the following question: what is the date mentioned in this letter?\n",
    "<|image_1|>\nRepresent the given image for classification\n",
    "<|image_1|>\nRepresent the given image.\n",
    "<|image_pad|>\nRepresent the given image.\n",
    "Find me an everyday image that matches the given caption: Man riding a motor bike on a dirt road.\n",
    "Find me an everyday image that matches the given caption. Man riding a motor bike on a dirt road on the countryside.",
    "<|image_pad|> Represent the given image.",
    "<|image_pad|> Represent the given image for classification",
    "<|video_pad|> Represent the given video.",
    "<|vision_start|><|image_pad|><|vision_end|>Represent the given image.",
    "A cat and a dog",
    "a photo of a cat",
    "Q: what color is the cat A: black\n",
    "Q: what color is the cat A: black\nQ: how many dogs are there A: two\nQ: is it sunny A: yes\n",
    "Represent the given dialogue about an image, which is used for image retrieval: Q: what is in the image A: a man on a horse\n",
    "<|image_1|>\nSelect the portion of the image that isolates the object labeled as \"the red umbrella\"\n",
    "<|image_1|>\nIdentify the scene shown in the image\n",
    "Retrieve an image of this news caption. US President Joe Biden speaks at the White House on Monday.",
    "<|image_1|>\nFind a Wikipedia image that answers this question: What is the capital of France?\n",
    "1/8/93",
    "398,627.92",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is this?<|im_end|>\n<|im_start|>assistant\n",
    "<s>[INST] What is in this image? [/INST]",
    "<|user|>\n<|image_1|>\nWhat is shown in this image?<|end|>\n<|assistant|>\n",
    "<|endoftext|>",
]

FIXED = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\r", " \n", "\n ", " \t \n ", "a", "A", ".", "'", "''",
    " " * 17, " " * 18 + "x", "x" + " " * 25, "x" + " " * 40 + "y", "\t" * 9 + "z", "\n" * 12,
    "trailing spaces   ", "   leading spaces", " both ", "tab\tseparated\tvalues\t",
    "line one\nline two\r\nline three\rline four", "a\r\n\r\n\r\nb", "  \r\n\r\n  x",
    "Hello, world!", "Hello world", "hello world", " hello world", "hello  world", "hello world ",
    "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "don't", "DON'T", "I'm", "I'M",
    "we'll", "WE'LL", "they're", "You've", "she'd", "it's", "It'S", "'s", "'S 'T 'RE 'VE 'M 'LL 'D",
    "x'S 'ſ 'Ｓ 'ﬆ 'K 'LL 'Ll 'ǉ 'İ", "rock 'n' roll", "''s", "'''", "O'Neil", "l'homme", "the cat's toy",
    "1", "12", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "-42", "+1 (555) 010-9999",
    "2024-11-27T13:45:00Z", "0x1F", "1e-9", "١٢٣٤٥", "۱۲۳", "१२३", "１２３", "²³¹", "½ ¼ ¾", "Ⅻ Ⅳ ⅳ",
    "9" * 33, "007", "3rd", "v1.2.3", "50%", "$100", "€9,99", "£5",
    "你好，世界！", "我爱自然语言处理。", "日本語のテキストです。", "カタカナとひらがな", "한국어 텍스트입니다.",
    "مرحبا بالعالم", "שלום עולם", "Привет, мир!", "Γειά σου Κόσμε", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "Tiếng Việt có dấu", "Ærøskøbing", "straße", "STRASSE", "İstanbul", "ǅungla", "ﬁne ﬂow", "Ｈｅｌｌｏ",
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸", "1️⃣", "❤️", "🧑🏿‍💻", "👩🏻‍❤️‍💋‍👨🏼", "🙂🙃", "emoji 😀 in text",
    "é", "e\u0301", "\u0301", "\u0301\u0301abc", "a\u0308\u0301", "\u200b", "a\u200bb", "\u200d", "\ufeffBOM",
    "\ufffd", "\u00a0", "a\u00a0b", "a\u00a0\u00a0b", "\u3000", "x\u3000\u3000y", "\u2028\u2029", "\u0085",
    "\x00", "\x01\x02\x1f", "\x7f", "control\x0bchar", "\u180e", "\u2581", "\u2581\u2581x", "▁hello▁world",
    "Ġhello", "Ċ", "<0x41>", "<0xE2><0x82>", "<s>", "</s>", "<unk>", "<s> hello </s>", "<<s>>", "<|im_start",
    "im_start|>", "<|>", "<||>", "|<|endoftext|>|", "<|endoftext|><|endoftext|>", "<|endoftext|> <|endoftext|>",
    "func main() {\n\tfmt.Println(\"hi\")\n}\n", "def f(x):\n    return x ** 2\n", "    indented\n        more\n",
    '{"key": [1, 2, 3], "nested": {"a": null, "b": true}}', "SELECT * FROM t WHERE id = 42;",
    "<html><body class=\"x\">Hi</body></html>", "https://example.com/path?q=1&r=two#frag",
    "user@example.com", "C:\\Windows\\System32", "#!/bin/bash", "a+b=c; x*y/z", "¯\\_(ツ)_/¯",
    "!!!???...", "---", "***", "...", "…", "—", "«guillemets»", "“quotes”", "‘single’", "(parens)", "[brackets]",
    "{braces}", "<angles>", "@#$%^&*", "~`|\\", "hello.world", "e.g. i.e. etc.", "Mr. Smith", "a-b_c",
    "mixed English 中文 日本語 한국어 العربية", "abc123def", "ABC123def456", "x1y2z3", "CamelCaseWord",
    "snake_case_word", "kebab-case-word", "ALLCAPS", "MiXeD cAsE", "hello\nworld", "hello \nworld",
    "hello\n world", "hello\t\tworld", "end.\n", "end.\n\n", "a \n\n b", " \n \n ",
]

WORDS = (
    "the of and to in is was for that on with as by at from his her they this which be or are an not had but "
    "image picture photo caption question answer represent given following retrieve find select identify "
    "classification dialogue scene object video frame cat dog man woman child car bike road tree house sky "
    "red green blue black white large small young old quickly slowly running riding standing sitting "
    "mountain river city street market kitchen table chair window computer phone letter date number "
    "embedding multimodal vision language model training evaluation benchmark retrieval dataset"
).split()

SCRIPTS = {
    "han": (0x4E00, 0x9FA5), "hiragana": (0x3041, 0x3096), "katakana": (0x30A1, 0x30FA),
    "hangul": (0xAC00, 0xD7A3), "arabic": (0x0621, 0x064A), "hebrew": (0x05D0, 0x05EA),
    "cyrillic": (0x0410, 0x044F), "greek": (0x0391, 0x03C9), "devanagari": (0x0905, 0x0939),
    "thai": (0x0E01, 0x0E2E), "latin1": (0x00C0, 0x00FF), "latinext": (0x0100, 0x017F),
}
EMOJI = ["😀", "😂", "🥲", "👍", "🎉", "🔥", "🚀", "🌍", "🐱", "🐶", "🍕", "⚽", "✨", "💯", "🤖", "🦄", "🫠", "❤️"]
SKIN = ["\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF"]
ZWJ = ["👨‍💻", "👩‍🔬", "🧑‍🚀", "👨‍👩‍👧", "🏳️‍⚧️", "🐻‍❄️", "😶‍🌫️", "❤️‍🔥", "👁️‍🗨️"]
COMBINING = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u0327", "\u0338", "\u20dd"]
SPACES = [" ", " ", " ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009", "\u200b", "\u2028"]
PUNCT = list(".,;:!?'\"()[]{}<>-_/\\|@#$%^&*+=~`") + ["…", "—", "–", "·", "•", "«", "»", "“", "”", "、", "。", "！"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D"]
ODD = ["\u2581", "\u0120", "\u010a", "<0x0A>", "<0xFF>", "\ufffd", "\ufeff", "\u00ad", "\u0000", "\u001b",
       "\ue000", "\U0001d400", "\U0001d7d8", "\u2163", "\u00b2", "\u0660", "\uff10", "\u200d", "\u200c", "\ufe0f"]


def rand_word(r):
    w = r.choice(WORDS)
    k = r.random()
    if k < 0.1:
        w = w.upper()
    elif k < 0.25:
        w = w.capitalize()
    if r.random() < 0.08:
        w += r.choice(CONTRACTIONS)
    return w


def rand_script(r, name, n):
    lo, hi = SCRIPTS[name]
    return "".join(chr(r.randint(lo, hi)) for _ in range(n))


def rand_number(r):
    k = r.random()
    if k < 0.3:
        return str(r.randint(0, 10 ** r.randint(1, 12)))
    if k < 0.45:
        return "".join(r.choice("0123456789") for _ in range(r.randint(13, 45)))
    if k < 0.6:
        return f"{r.uniform(-1e6, 1e6):.{r.randint(0, 6)}f}"
    if k < 0.7:
        return f"{r.randint(1, 999)},{r.randint(0, 999):03d},{r.randint(0, 999):03d}"
    if k < 0.8:
        return "".join(chr(0x0660 + int(c)) for c in str(r.randint(0, 99999)))
    if k < 0.9:
        return "".join(chr(0xFF10 + int(c)) for c in str(r.randint(0, 99999)))
    return f"{r.randint(1900, 2100)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


def rand_emoji(r):
    k = r.random()
    if k < 0.4:
        return r.choice(EMOJI)
    if k < 0.6:
        return r.choice(["👍", "👋", "🧑", "👩", "🙌", "💪"]) + r.choice(SKIN)
    if k < 0.85:
        return r.choice(ZWJ)
    return "".join(chr(0x1F1E6 + r.randint(0, 25)) for _ in range(2))


def rand_code(r):
    ident = lambda: r.choice(["x", "y", "idx", "value", "fooBar", "my_var", "ctx", "err", "tok"]) + str(r.randint(0, 99))
    forms = [
        lambda: f"func {ident()}({ident()} int) error {{\n\treturn nil\n}}\n",
        lambda: f"if {ident()} != nil {{\n\treturn {ident()}, err\n}}",
        lambda: f"def {ident()}(self, {ident()}=None):\n    return {ident()} + {r.randint(0, 9)}\n",
        lambda: f"for i in range({r.randint(1, 100)}):\n    print(i, end=' ')\n",
        lambda: json.dumps({ident(): [r.randint(0, 99), r.random(), None, True], "s": rand_word(r)}),
        lambda: f"{ident()} := map[string]int{{\"{rand_word(r)}\": {r.randint(0, 9)}}}",
        lambda: "    " * r.randint(1, 4) + f"{ident()} = {ident()}[{r.randint(0, 9)}]  # {rand_word(r)}",
        lambda: f"x = lambda a, b: a {r.choice('+-*/%')} b",
        lambda: f"<div id=\"{ident()}\">{rand_word(r)}</div>",
    ]
    return r.choice(forms)()


def rand_sentence(r):
    n = r.randint(3, 18)
    out = []
    for i in range(n):
        out.append(rand_word(r))
        if r.random() < 0.12:
            out[-1] += r.choice([",", ";", ":", "", ""])
    s = " ".join(out)
    s = s[0].upper() + s[1:]
    return s + r.choice([".", "!", "?", "...", "", "\n"])


def rand_mixed(r):
    parts = []
    for _ in range(r.randint(1, 10)):
        k = r.random()
        if k < 0.2:
            parts.append(rand_word(r))
        elif k < 0.35:
            parts.append(rand_script(r, r.choice(list(SCRIPTS)), r.randint(1, 6)))
        elif k < 0.45:
            parts.append(rand_number(r))
        elif k < 0.55:
            parts.append(rand_emoji(r))
        elif k < 0.7:
            parts.append("".join(r.choice(SPACES) for _ in range(r.randint(1, 4))))
        elif k < 0.8:
            parts.append("".join(r.choice(PUNCT) for _ in range(r.randint(1, 4))))
        elif k < 0.88:
            parts.append(r.choice(COMBINING) * r.randint(1, 2))
        else:
            parts.append(r.choice(ODD))
    return r.choice(["", " "]).join(parts)


def rand_whitespace(r):
    core = rand_word(r) if r.random() < 0.7 else ""
    pre = "".join(r.choice(SPACES) for _ in range(r.randint(0, 20)))
    post = "".join(r.choice(SPACES) for _ in range(r.randint(0, 20)))
    mid = " " * r.randint(1, 30)
    return pre + core + mid + rand_word(r) + post


def common_corpus():
    r = random.Random(SEED)
    out = list(MMEB) + list(FIXED)
    gens = [
        (rand_sentence, 1000), (rand_mixed, 1200), (rand_code, 300), (rand_whitespace, 400),
        (lambda r: " ".join(rand_number(r) for _ in range(r.randint(1, 4))), 300),
        (lambda r: rand_script(r, r.choice(list(SCRIPTS)), r.randint(1, 30)), 500),
        (lambda r: " ".join(rand_emoji(r) for _ in range(r.randint(1, 5))), 200),
        (lambda r: "\n".join(rand_sentence(r) for _ in range(r.randint(2, 5))), 150),
    ]
    for gen, n in gens:
        for _ in range(n):
            out.append(gen(r))
    seen, uniq = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    return uniq


def added_token_cases(tok, r):
    """Every added token (sampled if there are very many) alone and embedded."""
    added = [t for t in tok.get_added_tokens_decoder().values()]
    contents = sorted({t.content for t in added})
    must = {"<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<|im_start|>", "<|im_end|>",
            "<|endoftext|>", "<|video_pad|>", "<s>", "</s>", "<unk>"}
    if len(contents) > 300:
        keep = [c for c in contents if c in must]
        rest = [c for c in contents if c not in must]
        keep += r.sample(rest, 300 - len(keep))
        contents = sorted(keep)
    cases = []
    for c in contents:
        w = rand_word(r)
        cases += [c, f"{w} {c} {w}", f"{w}{c}{w}", f" {c} ", f"{c}\n", f"\n{c}", f"{c}{c}", f"  {c}  x",
                  f"{c}{rand_script(r, 'han', 2)}", f"Q: {w}? {c} A: {w}"]
    return cases


def decode_cases(tok, r):
    vs = tok.get_vocab_size(with_added_tokens=True)
    added_ids = sorted(tok.get_added_tokens_decoder().keys())
    cases = []
    for _ in range(N_RANDOM_DECODES):
        ids = []
        for _ in range(r.randint(1, 16)):
            k = r.random()
            if k < 0.7:
                ids.append(r.randrange(vs))
            elif k < 0.85 and added_ids:
                ids.append(r.choice(added_ids))
            elif k < 0.97:
                ids.append(r.randrange(min(vs, 600)))  # bytes, byte tokens, short pieces
            else:
                ids.append(vs + r.randrange(1000))  # unknown id: skipped
        cases.append(ids)
    return cases


# ---------------------------------------------------------------- output

def write_jsonl_gz(path, rows):
    buf = io.BytesIO()
    # mtime=0 and no file name keep the bytes reproducible.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        for row in rows:
            g.write((json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.environ.get("VLM2VEC_TOKENIZERS_DIR", os.path.join(repo, ".cache", "tokenizers")))
    ap.add_argument("--out", default=os.path.join(repo, "encoder", "tokenizer", "testdata"))
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()

    corpus = common_corpus()
    os.makedirs(args.out, exist_ok=True)
    write_jsonl_gz(os.path.join(args.out, "strings.jsonl.gz"), ({"t": s} for s in corpus))

    names = args.names or sorted(d for d in os.listdir(args.dir) if os.path.exists(os.path.join(args.dir, d, "tokenizer.json")))
    for name in names:
        path = os.path.join(args.dir, name, "tokenizer.json")
        tok = Tokenizer.from_file(path)
        r = random.Random(f"{SEED}-{name}")
        seen = set(corpus)
        texts = list(corpus)
        for t in added_token_cases(tok, r):
            if t not in seen:
                seen.add(t)
                texts.append(t)
        rows = [{
            "tokenizer": name, "sha256": sha256_file(path), "tokenizers_version": tokenizers.__version__,
            "vocab_size": tok.get_vocab_size(with_added_tokens=True), "strings": len(texts),
        }]
        for t in texts:
            ids = tok.encode(t, add_special_tokens=True).ids
            ids0 = tok.encode(t, add_special_tokens=False).ids
            rows.append({"t": t, "ids": ids, "ids0": ids0,
                         "d": tok.decode(ids, skip_special_tokens=False),
                         "ds": tok.decode(ids, skip_special_tokens=True)})
        decodes = [] if name in NO_RANDOM_DECODES else decode_cases(tok, r)
        for ids in decodes:
            rows.append({"dec": ids, "d": tok.decode(ids, skip_special_tokens=False),
                         "ds": tok.decode(ids, skip_special_tokens=True)})
        out = os.path.join(args.out, f"golden_{name}.jsonl.gz")
        write_jsonl_gz(out, rows)
        print(f"{name}: {len(texts)} strings, {len(decodes)} decodes -> {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
