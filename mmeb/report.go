package mmeb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

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

// AllScores is the reference's all-scores report
// (experiments/report_score_v2.py):
// {"metadata": {...}, "metrics": {"image"|"video"|"visdoc": {dataset: scores}}}.
type AllScores struct {
	// Metadata holds model_name and report_generated_date (and whatever
	// else a report read back carries).
	Metadata map[string]any
	Metrics  map[Modality]map[string]DatasetScores
	// Status holds the status strings the reference writes in place of
	// scores ("FILE_N/A" for a dataset without a score file, "DIR_N/A",
	// "JSON_ERROR", …), by modality and dataset.
	Status map[Modality]map[string]string
	// metaOrder keeps the metadata keys in the order they are written.
	metaOrder []string
}

// FileNA is the reference's status for a dataset without a score file.
const FileNA = "FILE_N/A"

// NewAllScores collects results into the all-scores layout, dated now.
// Every dataset of the three modalities is listed, as in the reference:
// those without a result are FileNA.
func NewAllScores(model string, results []*Result) *AllScores {
	return newAllScores(model, time.Now(), results)
}

func newAllScores(model string, now time.Time, results []*Result) *AllScores {
	a := &AllScores{
		Metadata:  map[string]any{"model_name": model, "report_generated_date": pyISOFormat(now)},
		metaOrder: []string{"model_name", "report_generated_date"},
		Metrics:   map[Modality]map[string]DatasetScores{},
		Status:    map[Modality]map[string]string{},
	}
	for _, m := range []Modality{ModImage, ModVideo, ModVisDoc} {
		a.Metrics[m] = map[string]DatasetScores{}
		a.Status[m] = map[string]string{}
		for _, t := range TasksOf(m) {
			a.Status[m][t.Name] = FileNA
		}
	}
	for _, r := range results {
		m := r.Task.Modality
		if m == "" {
			m = ModImage
		}
		if a.Metrics[m] == nil {
			a.Metrics[m] = map[string]DatasetScores{}
		}
		delete(a.Status[m], r.Task.Name)
		a.Metrics[m][r.Task.Name] = DatasetScores{Scores: r.Scores, NumPred: r.NumPred, NumData: r.NumData}
	}
	return a
}

// pyISOFormat writes a local time as Python's datetime.now().isoformat()
// does: microseconds, and none at all when they are zero.
func pyISOFormat(t time.Time) string {
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

// fixedPageName is the name the reference's report gives the two
// re-released visual-document page sets ("ViDoSeek-page" is written as
// "ViDoSeek-page-fixed").
func fixedPageName(m Modality, name string) string {
	if m == ModVisDoc && (name == "ViDoSeek-page" || name == "MMLongBench-page") {
		return name + "-fixed"
	}
	return name
}

// MarshalJSON writes the report byte for byte as the reference's
// json.dump(..., indent=4) does: metadata keys in order, modalities
// image, video, visdoc, datasets in report order (unknown ones last,
// sorted), status strings where there are no scores, the two "-page"
// sets renamed "-page-fixed", and non-ASCII escaped.
func (a *AllScores) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"metadata":{`)
	keys := append([]string(nil), a.metaOrder...)
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	var extra []string
	for k := range a.Metadata {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	n := 0
	for _, k := range append(keys, extra...) {
		v, ok := a.Metadata[k]
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(pyJSONString(k))
		b.WriteByte(':')
		if s, ok := v.(string); ok {
			b.WriteString(pyJSONString(s))
		} else {
			vb, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b.Write(vb)
		}
	}
	b.WriteString(`},"metrics":{`)
	first := true
	for _, m := range []Modality{ModImage, ModVideo, ModVisDoc} {
		ds, st := a.Metrics[m], a.Status[m]
		if len(ds) == 0 && len(st) == 0 {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:{", m)
		all := map[string]bool{}
		for name := range ds {
			all[name] = true
		}
		for name := range st {
			all[name] = true
		}
		i := 0
		for _, name := range orderedNames(m, all) {
			if fixedPageName(m, name) != name && all[name+"-fixed"] {
				continue // the re-release is written under the same key
			}
			if i > 0 {
				b.WriteByte(',')
			}
			i++
			b.WriteString(pyJSONString(fixedPageName(m, name)))
			b.WriteByte(':')
			if d, ok := ds[name]; ok {
				v, err := d.MarshalJSON()
				if err != nil {
					return nil, err
				}
				b.Write(v)
			} else {
				b.WriteString(pyJSONString(st[name]))
			}
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

// pyJSONString quotes s as Python's json module does with its default
// ensure_ascii: every character outside printable ASCII as \uXXXX
// (surrogate pairs above U+FFFF), and only " and \ escaped besides.
func pyJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
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
	a := &AllScores{Metadata: raw.Metadata, Metrics: map[Modality]map[string]DatasetScores{},
		Status: map[Modality]map[string]string{}, metaOrder: []string{"model_name", "report_generated_date"}}
	for m, ds := range raw.Metrics {
		a.Metrics[m] = map[string]DatasetScores{}
		a.Status[m] = map[string]string{}
		for name, msg := range ds {
			var status string
			if json.Unmarshal(msg, &status) == nil {
				a.Status[m][name] = status // "FILE_N/A" and the like
				continue
			}
			var d DatasetScores
			if err := json.Unmarshal(msg, &d); err != nil {
				return nil, fmt.Errorf("mmeb: all-scores report: %s %s: %w", m, name, err)
			}
			a.Metrics[m][name] = d
		}
	}
	return a, nil
}

// MainScores returns each dataset's main metric (hit@1, or ndcg_linear@5
// for visual documents), keyed by registry name. Datasets without the
// metric are left out. Where a report holds both a "-page" set and its
// "-page-fixed" re-release, the fixed one is used, whatever the map
// order: it is the one the published tables score.
func (a *AllScores) MainScores() map[string]float64 {
	out := map[string]float64{}
	for m, ds := range a.Metrics {
		for name, d := range ds {
			if _, fixed := ds[name+"-fixed"]; fixed && fixedPageName(m, name) != name {
				continue
			}
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

// Missing lists the registry datasets of the given tasks that a report
// has no scores for, in report order.
func (a *AllScores) Missing(tasks []Task) []string {
	have := a.MainScores()
	var out []string
	for _, t := range tasks {
		if _, ok := have[t.Name]; !ok {
			out = append(out, t.Name)
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

// ReadScoreDir collects the <dataset>_score.json files of one model's
// results into an all-scores report, as the reference's report script
// does: from dir/image, dir/video and dir/visdoc when any of them exists
// (a missing one marks its datasets "DIR_N/A"), otherwise from dir itself
// (the flat layout eval_mmeb writes). Datasets without a file are
// FileNA, unreadable files "JSON_ERROR"; the model name is the
// directory's base name.
func ReadScoreDir(dir string) (*AllScores, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("mmeb: %s is not a directory", dir)
	}
	a := newAllScores(filepath.Base(filepath.Clean(dir)), time.Now(), nil)
	nested := false
	for _, m := range []Modality{ModImage, ModVideo, ModVisDoc} {
		if st, err := os.Stat(filepath.Join(dir, string(m))); err == nil && st.IsDir() {
			nested = true
		}
	}
	for _, m := range []Modality{ModImage, ModVideo, ModVisDoc} {
		sub := dir
		if nested {
			sub = filepath.Join(dir, string(m))
			if st, err := os.Stat(sub); err != nil || !st.IsDir() {
				for name := range a.Status[m] {
					a.Status[m][name] = "DIR_N/A"
				}
				continue
			}
		}
		for _, t := range TasksOf(m) {
			for _, name := range append([]string{t.Name}, reverseAliases(t.Name)...) {
				data, err := os.ReadFile(filepath.Join(sub, name+"_score.json"))
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					a.Status[m][name] = "READ_ERROR"
					continue
				}
				var d DatasetScores
				if err := json.Unmarshal(data, &d); err != nil {
					a.Status[m][name] = "JSON_ERROR"
					continue
				}
				delete(a.Status[m], t.Name)
				delete(a.Status[m], name)
				a.Metrics[m][name] = d
			}
		}
	}
	return a, nil
}
