#!/usr/bin/env python3
"""Write mmeb/labels/video_cls.json: the full class-label lists of MMEB-V2's
five video-classification tasks, in the reference's order.

Global video classification ranks each video against every class of its
dataset (700 for Kinetics-700, 174 for SmthSmthV2, 101 for UCF101, 51 for
HMDB51, 10 for Breakfast), not only the classes that occur in the rows
loaded. The lists are dataset facts; this script reads them from a
TIGER-AI-Lab/VLM2Vec checkout so the committed file can be regenerated and
checked:

    python3 scripts/mmeb/extract_video_labels.py --vlm2vec /path/to/VLM2Vec

Keys are this project's task names (K700, not Kinetics-700).
"""
import argparse
import ast
import json
import os

SOURCE = "src/data/eval_dataset/video_classification_utils.py"
NAMES = {"K700_LABELS": "K700", "SSV2_LABELS": "SmthSmthV2", "UCF101_LABELS": "UCF101",
         "HMDB51_LABELS": "HMDB51", "BREAKFAST_LABELS": "Breakfast"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vlm2vec", required=True, help="a TIGER-AI-Lab/VLM2Vec checkout")
    ap.add_argument("--out", default="mmeb/labels/video_cls.json")
    args = ap.parse_args()
    with open(os.path.join(args.vlm2vec, SOURCE)) as f:
        tree = ast.parse(f.read())
    labels = {}
    for node in tree.body:  # literal assignments only: no code from the checkout runs
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", None) in NAMES:
            labels[NAMES[node.targets[0].id]] = ast.literal_eval(node.value)
    missing = set(NAMES.values()) - set(labels)
    if missing:
        raise SystemExit(f"{SOURCE}: no list for {sorted(missing)}")
    with open(args.out, "w") as f:
        json.dump({k: labels[k] for k in ["K700", "SmthSmthV2", "HMDB51", "UCF101", "Breakfast"]}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print({k: len(v) for k, v in labels.items()})


if __name__ == "__main__":
    main()
