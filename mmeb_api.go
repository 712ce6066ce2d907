package vlm2vec

import (
	"context"

	"github.com/org/vlm2vec/mmeb"
)

// MMEB evaluation, re-exported from package mmeb (see docs/mmeb.md).
type (
	// MMEBTask describes one MMEB dataset: meta-task, IND/OOD, ranking, metric.
	MMEBTask = mmeb.Task
	// MMEBDataset is a loaded MMEB dataset with its malformed-row report.
	MMEBDataset = mmeb.Dataset
	// MMEBItem is one input to embed; Text is in data format (<|image_1|>).
	MMEBItem = mmeb.Item
	// MMEBEmbedder is what the evaluator needs from a model
	// (Encoder.MMEB adapts an encoder).
	MMEBEmbedder = mmeb.Embedder
	// MMEBOptions configures EvaluateMMEB.
	MMEBOptions = mmeb.Options
	// MMEBLoadOptions configures OpenMMEB.
	MMEBLoadOptions = mmeb.LoadOptions
	// MMEBResult is the outcome of evaluating one dataset.
	MMEBResult = mmeb.Result
	// MMEBAggregate is one cell of the papers' aggregate tables.
	MMEBAggregate = mmeb.Aggregate
)

// MMEBTasks returns the 78 MMEB-V2 tasks; the first 36 are MMEB-V1's.
func MMEBTasks() []MMEBTask { return mmeb.Tasks() }

// LookupMMEBTask finds a task by dataset name.
func LookupMMEBTask(name string) (MMEBTask, bool) { return mmeb.Lookup(name) }

// OpenMMEB loads one dataset from dataDir (MMEB-eval, MMEB_Test_Instruct,
// visual-document BEIR or video-classification layout).
func OpenMMEB(ctx context.Context, dataDir, imageRoot string, task MMEBTask, opts MMEBLoadOptions) (*MMEBDataset, error) {
	return mmeb.Open(ctx, dataDir, imageRoot, task, opts)
}

// EvaluateMMEB embeds and scores one dataset.
func EvaluateMMEB(ctx context.Context, emb MMEBEmbedder, ds *MMEBDataset, opts MMEBOptions) (*MMEBResult, error) {
	return mmeb.Evaluate(ctx, emb, ds, opts)
}

// MMEBV1Table aggregates per-dataset main scores into the MMEB-V1 table.
func MMEBV1Table(main map[string]float64) []MMEBAggregate { return mmeb.V1Table(main) }

// MMEBV2Table aggregates per-dataset main scores into the MMEB-V2 table.
func MMEBV2Table(main map[string]float64) []MMEBAggregate { return mmeb.V2Table(main) }
