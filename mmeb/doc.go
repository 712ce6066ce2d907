// Package mmeb evaluates multimodal embedders on MMEB (the 36 image tasks
// of MMEB-V1) and MMEB-V2 (78 tasks: image, video, visual documents) the
// way the VLM2Vec reference evaluates them, and prints the papers' tables.
//
// The pieces:
//
//   - A task registry (Tasks, V1Tasks, Lookup): meta-task, IND/OOD,
//     modalities, candidate counts, ranking mode and main metric per task.
//   - Loaders for the real layouts: MMEB-eval parquet (LoadV1),
//     MMEB_Test_Instruct (LoadInstruct, with V2's prompt rewrite), the
//     visual-document BEIR layout with graded qrels (LoadVisDoc), video
//     frame folders (LoadFrames, VideoFrames, LoadVideoCLS); Open picks one
//     by layout. Malformed rows are reported with their row numbers
//     (Dataset.Problems) and counted, never silently dropped.
//   - The evaluator (Evaluate): embeds every unique query and candidate
//     once, in batches, through the small Embedder interface, optionally
//     through an on-disk Cache so an interrupted run resumes; ranks per row
//     or against the global pool with the reference's tie rule (first
//     maximum wins); computes hit, NDCG (linear and exponential gain),
//     precision, recall, F1, MAP and MRR at 1, 5 and 10 (ComputeMetrics).
//   - Reports: the reference's <dataset>_score.json (ScoreFile) and
//     all_scores layout (AllScores), the V1 and V2 aggregate tables
//     (V1Table, V2Table, Markdown) and a bar chart (PlotPNG).
//
// Item texts are in the data's format (image placeholder <|image_1|>); the
// encoder renders them for its backbone with instruct.Swap.
//
// ColorWordEmbedder is a model-free stand-in for pipeline tests; the
// synthetic benchmark in testdata/synthetic (written by
// scripts/mmeb/make_synthetic.py) has closed-form expected scores with it.
package mmeb
