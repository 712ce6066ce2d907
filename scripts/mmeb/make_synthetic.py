#!/usr/bin/env python3
"""Write a small synthetic MMEB benchmark in the real on-disk layouts.

The data is for testing the Go evaluator (package mmeb) end to end with its
ColorWordEmbedder, whose scores are known in closed form: every image is a
solid colour from the embedder's palette, and every text names a colour by
its last word. A query "matches" its ground truth when both name the same
colour; a "wrong" row names the colour of another candidate; a "tie" row
names a colour no candidate has, so every score is equal and the
reference's first-max rule keeps the ground truth (listed first) on top.

Layouts written under OUT (default mmeb/testdata/synthetic):

  MMEB-eval/<Dataset>/test-00000-of-00001.parquet        V1: qry_text, qry_img_path, tgt_text[], tgt_img_path[]
  MMEB_Test_Instruct/<Dataset>/test-00000-of-00001.parquet V2: qry_inst, qry_text, qry_img_path, tgt_inst, tgt_text[], tgt_img_path[]
  images/<Dataset>/*.png                                  image root shared by both (paths in rows are relative to it)
  visdoc/ViDoRe_arxivqa/{queries,corpus,qrels}/test-00000-of-00001.parquet   BEIR layout, graded qrels
  visdoc-images/ViDoRe_arxivqa/<corpus-id>.png
  video/HMDB51/test-00000-of-00001.parquet                video_id, pos_text
  frames/HMDB51/<video_id>/frame_NNNN.jpg                 frame folders

List columns are written both ways pyarrow/Hugging Face files come:
list<element> (current pyarrow default) and list<item> (older writers), see
LEGACY_LISTS. The expected scores are printed and written to expected.json.

Requires: pyarrow, pillow (see requirements.txt). Deterministic: same
output bytes for the same library versions.
"""
import argparse
import io
import json
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

# Must equal mmeb.Palette in mmeb/trivial.go.
PALETTE = [
    ("red", (220, 40, 40)), ("green", (40, 170, 60)), ("blue", (40, 70, 220)), ("yellow", (235, 215, 40)),
    ("purple", (130, 50, 160)), ("orange", (245, 140, 20)), ("gray", (128, 128, 128)), ("brown", (120, 70, 30)),
]
COLORS = [c for c, _ in PALETTE]
RGB = dict(PALETTE)
TOK = "<|image_1|>"
LEGACY_LISTS = {"OK-VQA"}  # written with list<item>; the others list<element>


def png(path, color, size=8):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (size, size), RGB[color]).save(path, format="PNG", optimize=False)


def write(table, path, legacy=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, use_compliant_nested_type=not legacy, compression="snappy")


def row_plan(kinds, n):
    """Cycle through kinds for n rows."""
    return [kinds[i % len(kinds)] for i in range(n)]


def pick(i, k):
    """A deterministic candidate colour list of k distinct colours for row i, GT first."""
    start = (i * 3) % len(COLORS)
    return [COLORS[(start + j) % len(COLORS)] for j in range(k)]


def query_color(kind, cands):
    if kind == "match":
        return cands[0]
    if kind == "wrong":
        return cands[1]
    # "tie": a colour no candidate has.
    return next(c for c in COLORS if c not in cands)


# name -> (meta, kinds, rows, candidates per row, family)
V1_SETS = {
    "VOC2007": ("CLS", ["match", "match", "wrong", "tie"], 20, 6, "cls"),
    "OK-VQA": ("VQA", ["match", "wrong", "wrong", "tie", "match"], 20, 6, "qa"),
    "MSCOCO_t2i": ("RET", ["match", "tie", "wrong", "wrong"], 20, 6, "t2i"),
    "RefCOCO": ("VG", ["match", "match", "match", "wrong", "tie"], 20, 6, "vg"),
}

QRY_INST = {
    "cls": TOK + "\nIdentify the object shown in the image",
    "qa": TOK + "\nRepresent the given image with the following question:",
    "t2i": "Find me an everyday image that matches the given caption:",
    "vg": TOK + "\nSelect the portion of the image that follows the language expressions.",
}
TGT_INST = {
    "t2i": TOK + "\nRepresent the given image.",
    "vg": TOK + "\nRepresent the given cropped image of the object",
}


def v1_text(inst, text):
    """The V1 stored-row format: <inst>[ <text>]\\n (inst carries the token and its newline)."""
    return inst + (" " + text if text else "") + "\n"


def make_image_sets(out, expected):
    for name, (meta, kinds, n, k, fam) in V1_SETS.items():
        v1 = {"qry_text": [], "qry_img_path": [], "tgt_text": [], "tgt_img_path": []}
        v2 = {"qry_inst": [], "qry_text": [], "qry_img_path": [], "tgt_inst": [], "tgt_text": [], "tgt_img_path": []}
        counts = {"match": 0, "wrong": 0, "tie": 0}
        for i, kind in enumerate(row_plan(kinds, n)):
            counts[kind] += 1
            cands = pick(i, k)
            qc = query_color(kind, cands)
            qtext = ""
            qimg = ""
            if fam == "qa":
                qtext = "What color is shown?"
            if fam == "vg":
                qtext = "the colored region"
            if fam == "t2i":
                qtext = "A photo of something " + qc
            else:
                qimg = f"{name}/q{i:04d}.png"
                png(os.path.join(out, "images", qimg), qc)
            if fam in ("cls", "qa"):
                ttexts = cands
                tpaths = [""] * k
                tinst = ""
            else:
                tpaths = [f"{name}/c_{c}.png" for c in cands]
                for c, p in zip(cands, tpaths):
                    png(os.path.join(out, "images", p), c)
                ttexts = [v1_text(TGT_INST[fam], "")] * k
                tinst = TGT_INST[fam]
            v1["qry_text"].append(v1_text(QRY_INST[fam], qtext))
            v1["qry_img_path"].append(qimg)
            v1["tgt_text"].append(ttexts)
            v1["tgt_img_path"].append(tpaths)
            v2["qry_inst"].append(QRY_INST[fam])
            v2["qry_text"].append(qtext)
            v2["qry_img_path"].append(qimg)
            v2["tgt_inst"].append(tinst)
            v2["tgt_text"].append(cands if fam in ("cls", "qa") else [""] * k)
            v2["tgt_img_path"].append(tpaths)
        bad = 0
        if name == "VOC2007":
            # Two malformed rows, which the loaders must report and skip:
            # candidate lists of different lengths, and a missing image.
            v1["qry_text"] += [v1_text(QRY_INST[fam], "")] * 2
            v1["qry_img_path"] += [f"{name}/q0000.png", f"{name}/missing.png"]
            v1["tgt_text"] += [["red", "green"], ["red", "green"]]
            v1["tgt_img_path"] += [[""], ["", ""]]
            bad = 2
        good = n
        hit1 = (counts["match"] + counts["tie"]) / good
        # "wrong" rows put the GT second; others first.
        mrr = (counts["match"] + counts["tie"] + 0.5 * counts["wrong"]) / good
        expected[name] = {"meta": meta, "num_pred": good, "num_data": n + bad, "hit@1": hit1, "hit@5": 1.0, "mrr@10": mrr,
                          "match": counts["match"], "wrong": counts["wrong"], "tie": counts["tie"]}
        lt = pa.list_(pa.string())
        t1 = pa.table({"qry_text": v1["qry_text"], "qry_img_path": v1["qry_img_path"],
                       "tgt_text": pa.array(v1["tgt_text"], lt), "tgt_img_path": pa.array(v1["tgt_img_path"], lt)})
        write(t1, os.path.join(out, "MMEB-eval", name, "test-00000-of-00001.parquet"), legacy=name in LEGACY_LISTS)
        t2 = pa.table({"qry_inst": v2["qry_inst"], "qry_text": v2["qry_text"], "qry_img_path": v2["qry_img_path"],
                       "tgt_inst": v2["tgt_inst"], "tgt_text": pa.array(v2["tgt_text"], lt),
                       "tgt_img_path": pa.array(v2["tgt_img_path"], lt)})
        write(t2, os.path.join(out, "MMEB_Test_Instruct", name, "test-00000-of-00001.parquet"), legacy=name in LEGACY_LISTS)


def make_visdoc(out, expected):
    name = "ViDoRe_arxivqa"
    base = os.path.join(out, "visdoc", name)
    imgdir = os.path.join(out, "visdoc-images", name)
    corpus_ids, corpus_imgs = [], []
    for d, c in enumerate(COLORS):
        png(os.path.join(imgdir, f"{d}.png"), c, size=16)
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), RGB[c]).save(buf, format="PNG", optimize=False)
        corpus_ids.append(d)
        corpus_imgs.append({"bytes": buf.getvalue(), "path": f"{d}.png"})
    qids, qtexts, rq, rc, rs = [], [], [], [], []
    # Queries 0..6 ask for colour d and judge page d relevant (grade 2, with a
    # duplicate grade-1 line and a grade-0 line that must be ignored).
    for d in range(7):
        qids.append(d)
        qtexts.append("Which page is " + COLORS[d])
        rq += [d, d, d]
        rc += [d, d, 7]
        rs += [2, 1, 0]
    # Queries 7 and 8 name no colour ("none"): all scores tie, the ranking is
    # the pool order (pages 0..6 from the rows above, then page 7), and their
    # relevant page 7 comes 8th.
    for q in (7, 8):
        qids.append(q)
        qtexts.append("Which page is none")
        rq.append(q)
        rc.append(7)
        rs.append(1)
    # Malformed: no qrels; and a qrel to a page not in the corpus.
    qids += [9, 10]
    qtexts += ["Which page is red", "Which page is blue"]
    rq.append(10)
    rc.append(99)
    rs.append(1)
    img_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    write(pa.table({"query-id": pa.array(qids, pa.int64()), "query": qtexts}),
          os.path.join(base, "queries", "test-00000-of-00001.parquet"))
    write(pa.table({"corpus-id": pa.array(corpus_ids, pa.int64()), "image": pa.array(corpus_imgs, img_type)}),
          os.path.join(base, "corpus", "test-00000-of-00001.parquet"))
    write(pa.table({"query-id": pa.array(rq, pa.int64()), "corpus-id": pa.array(rc, pa.int64()),
                    "score": pa.array(rs, pa.int64())}),
          os.path.join(base, "qrels", "test-00000-of-00001.parquet"))
    import math
    expected[name] = {"num_pred": 9, "num_data": 11, "hit@1": 7 / 9, "ndcg_linear@5": 7 / 9,
                      "ndcg_linear@10": (7 + 2 / math.log2(9)) / 9, "mrr@10": (7 + 2 / 8) / 9}


def make_video(out, expected):
    name = "HMDB51"
    vids, labels = [], []
    match = 0
    for i in range(12):
        label = COLORS[i % 4]
        kind = "wrong" if i % 3 == 2 else "match"
        color = label if kind == "match" else COLORS[(i + 1) % 4]
        match += kind == "match"
        vid = f"v{i:03d}"
        nframes = 3 if i == 5 else 10  # one short video: all its frames are used
        for f in range(nframes):
            p = os.path.join(out, "frames", name, vid, f"frame_{f + 1:04d}.jpg")
            os.makedirs(os.path.dirname(p), exist_ok=True)
            Image.new("RGB", (8, 8), RGB[color]).save(p, format="JPEG", quality=95)
        vids.append(vid)
        labels.append(label)
    vids.append("v999")  # malformed: no frame folder
    labels.append("red")
    write(pa.table({"video_id": vids, "pos_text": labels}), os.path.join(out, "video", name, "test-00000-of-00001.parquet"))
    expected[name] = {"num_pred": 12, "num_data": 13, "hit@1": match / 12}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="mmeb/testdata/synthetic")
    args = ap.parse_args()
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    expected = {}
    make_image_sets(args.out, expected)
    make_visdoc(args.out, expected)
    make_video(args.out, expected)
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    for k, v in expected.items():
        print(k, {m: v[m] for m in v if "@" in m})


if __name__ == "__main__":
    main()
