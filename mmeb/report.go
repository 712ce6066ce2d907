package mmeb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/org/vlm2vec/internal/atomicfile"
)

// ScoreFile renders a result as the reference's <dataset>_score.json: every
// metric in the reference's order, then num_pred and num_data, indented by
// four spaces as Python's json.dump(..., indent=4) writes it.
func ScoreFile(r *Result) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for _, k := range r.Scores.keyOrder() {
		kb, _ := json.Marshal(k)
		fmt.Fprintf(&b, "    %s: %s,\n", kb, pyFloat(r.Scores[k]))
	}
	fmt.Fprintf(&b, "    \"num_pred\": %d,\n    \"num_data\": %d\n}", r.NumPred, r.NumData)
	return b.Bytes()
}

// WriteScoreFile writes dir/<dataset>_score.json atomically.
func WriteScoreFile(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, r.Task.Name+"_score.json"), ScoreFile(r), 0o644)
}

// DatasetScores is one dataset's entry in an all-scores report: the
// metrics plus the query counts.
type DatasetScores struct {
	Scores           Scores
	NumPred, NumData int
}

// MarshalJSON writes the metrics in reference order followed by the counts.
func (d DatasetScores) MarshalJSON() ([]byte, error) {
	inner, err := d.Scores.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if len(d.Scores) == 0 {
		return []byte(fmt.Sprintf(`{"num_pred":%d,"num_data":%d}`, d.NumPred, d.NumData)), nil
	}
	return []byte(fmt.Sprintf(`%s,"num_pred":%d,"num_data":%d}`, inner[:len(inner)-1], d.NumPred, d.NumData)), nil
}

// UnmarshalJSON reads a reference score dict.
func (d *DatasetScores) UnmarshalJSON(b []byte) error {
	var raw map[string]float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	d.Scores = Scores{}
	for k, v := range raw {
		switch k {
		case "num_pred":
			d.NumPred = int(v)
		case "num_data":
			d.NumData = int(v)
		default:
			d.Scores[k] = v
		}
	}
	return nil
}

// AllScores is the reference's all_scores report layout:
// {"metadata": {...}, "metrics": {"image"|"video"|"visdoc": {dataset: scores}}}.
type AllScores struct {
	Metadata map[string]any
	Metrics  map[Modality]map[string]DatasetScores
}

// NewAllScores collects results into the all-scores layout.
func NewAllScores(model string, results []*Result) *AllScores {
	a := &AllScores{Metadata: map[string]any{"model_name": model}, Metrics: map[Modality]map[string]DatasetScores{}}
	for _, r := range results {
		m := r.Task.Modality
		if m == "" {
			m = ModImage
		}
		if a.Metrics[m] == nil {
			a.Metrics[m] = map[string]DatasetScores{}
		}
		a.Metrics[m][r.Task.Name] = DatasetScores{Scores: r.Scores, NumPred: r.NumPred, NumData: r.NumData}
	}
	return a
}

// MarshalJSON writes modalities and datasets in the reference's report
// order (unknown datasets last, sorted), indented by four spaces.
func (a *AllScores) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	meta, err := json.Marshal(a.Metadata)
	if err != nil {
		return nil, err
	}
	b.WriteString(`{"metadata":`)
	b.Write(meta)
	b.WriteString(`,"metrics":{`)
	first := true
	for _, m := range []Modality{ModImage, ModVideo, ModVisDoc} {
		ds, ok := a.Metrics[m]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:{", m)
		for i, name := range orderedNames(m, ds) {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(name)
			b.Write(kb)
			b.WriteByte(':')
			v, err := ds[name].MarshalJSON()
			if err != nil {
				return nil, err
			}
			b.Write(v)
		}
		b.WriteByte('}')
	}
	b.WriteString("}}")
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "    "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func orderedNames[V any](m Modality, ds map[string]V) []string {
	var names, rest []string
	seen := map[string]bool{}
	for _, t := range TasksOf(m) {
		for _, n := range append([]string{t.Name}, reverseAliases(t.Name)...) {
			if _, ok := ds[n]; ok && !seen[n] {
				names = append(names, n)
				seen[n] = true
			}
		}
	}
	for n := range ds {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// ReadAllScores parses a report in the all-scores layout (the reference's
// experiments/public/all_scores files or this package's own).
func ReadAllScores(r io.Reader) (*AllScores, error) {
	var raw struct {
		Metadata map[string]any                          `json:"metadata"`
		Metrics  map[Modality]map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("mmeb: all-scores report: %w", err)
	}
	a := &AllScores{Metadata: raw.Metadata, Metrics: map[Modality]map[string]DatasetScores{}}
	for m, ds := range raw.Metrics {
		a.Metrics[m] = map[string]DatasetScores{}
		for name, msg := range ds {
			var d DatasetScores
			// The reference writes status strings ("FILE_N/A") for datasets
			// it has no scores for; those are simply absent here.
			if err := json.Unmarshal(msg, &d); err != nil {
				continue
			}
			a.Metrics[m][name] = d
		}
	}
	return a, nil
}

// MainScores returns each dataset's main metric (hit@1, or ndcg_linear@5
// for visual documents), keyed by registry name. Datasets without the
// metric are left out.
func (a *AllScores) MainScores() map[string]float64 {
	out := map[string]float64{}
	for m, ds := range a.Metrics {
		for name, d := range ds {
			metric := MetricHit1
			if m == ModVisDoc {
				metric = MetricNDCGLin5
			}
			if t, ok := Lookup(name); ok {
				metric = t.Metric
				name = t.Name
			}
			if v, ok := d.Scores[metric]; ok {
				out[name] = v
			}
		}
	}
	return out
}

// MainScores returns the results' main metric per dataset.
func MainScores(results []*Result) map[string]float64 {
	out := map[string]float64{}
	for _, r := range results {
		out[r.Task.Name] = r.Main()
	}
	return out
}

// Aggregate is one cell of an aggregate table: the mean of the main metric
// over the datasets of a group, as a percentage.
type Aggregate struct {
	Label string
	// Mean is the unweighted mean over the group's datasets present, ×100.
	Mean float64
	// N is how many of the group's Of datasets had a score.
	N, Of int
}

// Rounded returns the mean rounded to one decimal, half away from zero,
// as the papers print it. It rounds on exact decimal digits (the mean to
// 1e-6 first), so 86.05 computed as 86.04999999999 still gives 86.1.
func (a Aggregate) Rounded() float64 { return RoundHalfUp(a.Mean, 1) }

// Complete reports whether every dataset of the group had a score.
func (a Aggregate) Complete() bool { return a.N == a.Of && a.Of > 0 }

// String renders the rounded mean, with "n/N" when incomplete.
func (a Aggregate) String() string {
	if a.N == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.1f", a.Rounded())
	if !a.Complete() {
		s += fmt.Sprintf(" (%d/%d)", a.N, a.Of)
	}
	return s
}

// RoundHalfUp rounds x to the given decimals, halves away from zero,
// after snapping x to 6 decimals to drop binary noise.
func RoundHalfUp(x float64, decimals int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	const snap = 1e6
	neg := x < 0
	m := math.Round(math.Abs(x) * snap) // exact integer count of 1e-6 units
	unit := math.Pow(10, float64(6-decimals))
	q := math.Floor(m / unit)
	if m-q*unit >= unit/2 {
		q++
	}
	r := q / math.Pow(10, float64(decimals))
	if neg {
		return -r
	}
	return r
}

func aggregate(label string, main map[string]float64, ts []Task) Aggregate {
	a := Aggregate{Label: label, Of: len(ts)}
	var vals []float64
	for _, t := range ts {
		if v, ok := main[t.Name]; ok {
			vals = append(vals, v*100)
		}
	}
	a.N = len(vals)
	if a.N > 0 {
		s := 0.0
		for _, v := range vals {
			s += v
		}
		a.Mean = s / float64(a.N)
	}
	return a
}

func filter(ts []Task, keep func(Task) bool) []Task {
	var out []Task
	for _, t := range ts {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// metaLabel is the papers' column name for a meta-task.
func metaLabel(m Meta) string {
	if m == MetaVG {
		return "GD"
	}
	return string(m)
}

// V1Table aggregates main scores (fractions, keyed by dataset) into the
// MMEB-V1 table: CLS, VQA, RET, GD, IND, OOD and Overall, each the
// unweighted mean over its datasets.
func V1Table(main map[string]float64) []Aggregate {
	v1 := V1Tasks()
	var rows []Aggregate
	for _, m := range []Meta{MetaCLS, MetaVQA, MetaRET, MetaVG} {
		rows = append(rows, aggregate(metaLabel(m), main, filter(v1, func(t Task) bool { return t.Meta == m })))
	}
	rows = append(rows,
		aggregate("IND", main, filter(v1, func(t Task) bool { return !t.OOD })),
		aggregate("OOD", main, filter(v1, func(t Task) bool { return t.OOD })),
		aggregate("Overall", main, v1))
	return rows
}

// V2Table aggregates main scores into the MMEB-V2 table: the image
// meta-tasks and Image, the video ones and Video, the visual-document ones
// and VisDoc, then All (the mean over all 78 datasets).
func V2Table(main map[string]float64) []Aggregate {
	all := Tasks()
	var rows []Aggregate
	groups := []struct {
		mod   Modality
		label string
		metas []Meta
	}{
		{ModImage, "Image", []Meta{MetaCLS, MetaVQA, MetaRET, MetaVG}},
		{ModVideo, "Video", []Meta{MetaVCLS, MetaVQA2, MetaVRET, MetaVMRET}},
		{ModVisDoc, "VisDoc", []Meta{MetaVDRv1, MetaVDRv2, MetaVR, MetaVDOOD}},
	}
	for _, g := range groups {
		for _, m := range g.metas {
			label := string(m)
			if g.mod == ModImage {
				label = "I-" + metaLabel(m)
				if m == MetaVQA {
					label = "I-QA"
				}
			}
			rows = append(rows, aggregate(label, main, filter(all, func(t Task) bool { return t.Modality == g.mod && t.Meta == m })))
		}
		rows = append(rows, aggregate(g.label, main, filter(all, func(t Task) bool { return t.Modality == g.mod })))
	}
	return append(rows, aggregate("All", main, all))
}

// Markdown renders aggregate rows as a one-line markdown table headed by
// the group labels with their dataset counts.
func Markdown(model string, rows []Aggregate) string {
	var h, sep, v strings.Builder
	h.WriteString("| Model |")
	sep.WriteString("|---|")
	fmt.Fprintf(&v, "| %s |", model)
	for _, r := range rows {
		fmt.Fprintf(&h, " %s (%d) |", r.Label, r.Of)
		sep.WriteString("---:|")
		fmt.Fprintf(&v, " %s |", r)
	}
	return h.String() + "\n" + sep.String() + "\n" + v.String() + "\n"
}

// MarkdownDatasets renders per-dataset main scores (×100, two decimals)
// for the evaluated results, with their metric and counts.
func MarkdownDatasets(results []*Result) string {
	var b strings.Builder
	b.WriteString("| Dataset | Meta | Metric | Score | Queries | Malformed |\n|---|---|---|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %d | %d |\n", r.Task.Name, metaLabel(r.Task.Meta), r.Task.Metric,
			r.Main()*100, r.NumPred, len(r.Problems))
	}
	return b.String()
}
