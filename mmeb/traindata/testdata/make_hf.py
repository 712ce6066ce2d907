"""Writes hf/: a tiny MMEB-train-style subset as pyarrow (and so Hugging
Face) writes it -- nullable string columns, dictionary encoding, snappy,
several row groups, two shards of one split plus a second split -- to test
that the Go loader reads real-world files.

Run: python make_hf.py   (pyarrow==26.0.1)
"""
import pyarrow as pa
import pyarrow.parquet as pq

TOK = "<|image_1|>"
Q = TOK + "\nFind an image caption describing the given everyday image.\n"


def table(rows, with_neg):
    cols = ["qry", "qry_image_path", "pos_text", "pos_image_path"]
    if with_neg:
        cols += ["neg_text", "neg_image_path"]
    return pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in cols})


shard0 = [
    {"qry": Q, "qry_image_path": "images/a.png", "pos_text": "a red circle", "pos_image_path": ""},
    {"qry": Q, "qry_image_path": "images/b.png", "pos_text": None, "pos_image_path": None},  # empty positive
    {"qry": "", "qry_image_path": "", "pos_text": "x", "pos_image_path": ""},  # empty query
    {"qry": Q, "qry_image_path": "images/a.png", "pos_text": "a blue star", "pos_image_path": "",
     "neg_text": "a blue circle", "neg_image_path": None},
]
shard1 = [
    {"qry": "Find me an everyday image that matches the given caption: a red circle\n", "qry_image_path": None,
     "pos_text": TOK + "\nRepresent the given image.\n", "pos_image_path": "images/a.png"},
    {"qry": Q, "qry_image_path": "images/missing.png", "pos_text": "gone", "pos_image_path": ""},  # missing image
]
pq.write_table(table(shard0, True), "hf/Shapes/original-00000-of-00002.parquet", row_group_size=2)
pq.write_table(table(shard1, False), "hf/Shapes/original-00001-of-00002.parquet")
pq.write_table(table([{"qry": "other split", "pos_text": "p"}], False), "hf/Shapes/diverse_instruction-00000-of-00001.parquet")
