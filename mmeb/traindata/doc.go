// Package traindata reads MMEB-train style contrastive training data and
// feeds it to a trainer in batches the way the VLM2Vec reference does.
//
// The pieces:
//
//   - Loaders (ReadJSONL, LoadJSONL, LoadParquet, LoadDir) for rows with
//     the columns qry, qry_image_path, pos_text, pos_image_path and the
//     optional neg_text, neg_image_path, as Hugging Face parquet shards
//     (TIGER-Lab/MMEB-train: <root>/<Subset>/<split>-NNNNN-of-NNNNN.parquet)
//     or JSONL files (<root>/<Subset>.jsonl). Image paths are resolved
//     against an image root. A per-subset cap keeps the first N rows, like
//     the reference's select(range(N)). Rows that cannot be trained on are
//     left out and reported, with their row numbers, in Stats: never fatal,
//     never silent.
//   - Samplers with serialisable state, so a resumed run sees exactly the
//     batches an uninterrupted run would: Uniform is V1's order (every
//     subset concatenated, a fresh random permutation per epoch), and
//     Interleaved is V2's (a source drawn with probability proportional to
//     its weight, then a homogeneous run of consecutive examples from it,
//     oversampling until every source has been exhausted, drop_last).
//   - Synthesize, which writes a small, deterministic MMEB-train-format
//     dataset of drawn shapes and their captions (image→caption and
//     caption→image subsets, a held-out split, and the held-out split again
//     in the MMEB-eval V1 layout that package mmeb evaluates), for the
//     train_lora example and tests.
//
// Texts stay in the data's format: images are marked with
// instruct.DataImageToken (<|image_1|>); an encoder renders them for its
// backbone with instruct.Swap. Keep them byte-exact: the pooled token is the
// last one, so a stray trailing newline changes the embedding.
package traindata
