package mmeb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/org/vlm2vec/instruct"
)

// MVBenchSubsets are MVBench's 20 subsets in the order the reference
// concatenates them (its subset_meta), which is the row order --limit cuts.
var MVBenchSubsets = []string{
	"episodic_reasoning", "action_sequence", "action_prediction", "action_antonym", "fine_grained_action",
	"unexpected_action", "object_existence", "object_interaction", "object_shuffle", "moving_direction",
	"action_localization", "scene_transition", "action_count", "moving_count", "moving_attribute",
	"state_change", "fine_grained_pose", "character_order", "egocentric_navigation", "counterfactual_inference",
}

// LoadVideoQA reads a V2 video question-answering dataset in the columns of
// its Hugging Face release; each row is ranked against its own options:
//
//   - MVBench: question, video, candidates[], answer; one parquet folder
//     per subset (path/<subset>/, read in MVBenchSubsets order) or one
//     table with a subset column; frames in <task.Dir>/<subset>/<video>/.
//     The query lists the options as "(A) …" lines and so are the
//     candidates.
//   - Video-MME: question, videoID, options[] ("A. …"), answer (a letter);
//     the query lists the options; candidates are named by the option and
//     embed its text after "A. ".
//   - NExTQA: video, question, answer (index), a0…a4; the query lists the
//     options as MVBench does; candidates are the bare options.
//   - EgoSchema: video_idx, question, answer (index as text), option[];
//     the options follow the question with no separator, as in the
//     reference; candidates as Video-MME's.
//   - ActivityNetQA: video_name, question, answer (yes/no); frames in
//     v_<video_name>/; candidates "yes" and "no".
//
// A row whose answer is not one of its options is reported and left out
// (the reference would keep it as a query no candidate can match).
func LoadVideoQA(ctx context.Context, path, frameRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	p, err := videoPrompt(task, MetaVQA2, "video QA")
	if err != nil {
		return nil, err
	}
	l := newLoader(frameRoot, opts)
	ds := &Dataset{Task: task}
	query := func(text string) string { return l.s(instruct.ProcessData(p.Query, text, true, false)) }
	opt := func(name, text string) Candidate { return Candidate{Name: l.s(name), Item: Item{Text: l.s(text)}} }
	// withOptions finishes a query whose candidates are its options, named
	// by the option and embedding text(option), options[answer] the label.
	withOptions := func(q Query, err error, options []string, text func(string) string, answer int) (Query, error) {
		if err != nil {
			return q, err
		}
		for _, o := range options {
			q.Candidates = append(q.Candidates, opt(o, text(o)))
		}
		q.Labels = []string{options[answer]}
		return q, nil
	}
	same := func(o string) string { return o }
	switch task.Name {
	case "MVBench":
		err = loadMVBench(ctx, path, l, ds, query)
	case "Video-MME":
		err = loadQA(ctx, path, l, ds, []colSpec{{path: []string{"question"}}, {path: []string{"videoID"}},
			{path: []string{"options"}, kind: colList}, {path: []string{"answer"}}},
			func(t *pqTable, r int) (Query, error) {
				options := t.col("options").at(r).list
				ans := t.col("answer").at(r).str
				idx := strings.Index("ABCD", ans)
				if len(ans) != 1 || idx < 0 || idx >= len(options) {
					return Query{}, skip("answer %q is not one of the %d options", ans, len(options))
				}
				q, err := videoQuery(l, task, t.col("videoID").at(r), "", query(t.col("question").at(r).str+"\n"+strings.Join(options, "\n")))
				return withOptions(q, err, options, optionText, idx)
			})
	case "NExTQA":
		err = loadQA(ctx, path, l, ds, []colSpec{{path: []string{"video"}}, {path: []string{"question"}}, {path: []string{"answer"}},
			{path: []string{"a0"}}, {path: []string{"a1"}}, {path: []string{"a2"}}, {path: []string{"a3"}}, {path: []string{"a4"}}},
			func(t *pqTable, r int) (Query, error) {
				var options []string
				for i := 0; i < 5; i++ {
					options = append(options, t.col(fmt.Sprintf("a%d", i)).at(r).str)
				}
				idx, ok := answerIndex(t.col("answer").at(r), len(options))
				if !ok {
					return Query{}, skip("answer %q is not an option index", t.col("answer").at(r).str)
				}
				text, _ := qaTemplate(query(t.col("question").at(r).str), options)
				q, err := videoQuery(l, task, t.col("video").at(r), "", l.s(text))
				return withOptions(q, err, options, same, idx)
			})
	case "EgoSchema":
		err = loadQA(ctx, path, l, ds, []colSpec{{path: []string{"video_idx"}}, {path: []string{"question"}}, {path: []string{"answer"}},
			{path: []string{"option"}, kind: colList}},
			func(t *pqTable, r int) (Query, error) {
				options := t.col("option").at(r).list
				idx, ok := answerIndex(t.col("answer").at(r), len(options))
				if !ok {
					return Query{}, skip("answer %q is not an option index", t.col("answer").at(r).str)
				}
				q, err := videoQuery(l, task, t.col("video_idx").at(r), "", query(t.col("question").at(r).str+strings.Join(options, " ")))
				return withOptions(q, err, options, optionText, idx)
			})
	case "ActivityNetQA":
		err = loadQA(ctx, path, l, ds, []colSpec{{path: []string{"video_name"}}, {path: []string{"question"}}, {path: []string{"answer"}}},
			func(t *pqTable, r int) (Query, error) {
				ans := t.col("answer").at(r).str
				if ans != "yes" && ans != "no" {
					return Query{}, skip("answer %q is neither yes nor no", ans)
				}
				q, err := videoQuery(l, task, t.col("video_name").at(r), "v_", query(t.col("question").at(r).str+"? (A) yes; (B) no."))
				if err != nil {
					return q, err
				}
				q.Candidates = []Candidate{opt("yes", "yes"), opt("no", "no")}
				q.Labels = []string{ans}
				return q, nil
			})
	default:
		return nil, fmt.Errorf("%w: %s", ErrNoLoader, task.Name)
	}
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// loadQA reads one table and builds its rows.
func loadQA(ctx context.Context, path string, l *loader, ds *Dataset, specs []colSpec, build func(t *pqTable, r int) (Query, error)) error {
	t, err := readTable(path, ds.Task, specs)
	if err != nil {
		return err
	}
	return l.eachRow(ctx, ds, t.rows, func(r int) (Query, error) {
		q, err := build(t, r)
		q.Row = r
		return q, err
	})
}

// loadMVBench reads MVBench's subsets in the reference's order.
func loadMVBench(ctx context.Context, dir string, l *loader, ds *Dataset, query func(string) string) error {
	specs := []colSpec{{path: []string{"question"}}, {path: []string{"video"}}, {path: []string{"candidates"}, kind: colList},
		{path: []string{"answer"}}, {path: []string{"subset"}, optional: true}}
	type part struct {
		subset string // "" when rows carry a subset column
		t      *pqTable
	}
	var parts []part
	for _, s := range MVBenchSubsets {
		sub := filepath.Join(dir, s)
		if st, err := os.Stat(sub); err == nil && st.IsDir() {
			t, err := readTable(sub, ds.Task, specs)
			if err != nil {
				return err
			}
			parts = append(parts, part{s, t})
		}
	}
	if len(parts) == 0 { // one table with a subset column
		t, err := readTable(dir, ds.Task, specs)
		if err != nil {
			return err
		}
		if !t.present["subset"] {
			return fmt.Errorf("mmeb: %s: %s has neither subset folders (%s, …) nor a subset column", ds.Task.Name, dir, MVBenchSubsets[0])
		}
		parts = []part{{"", t}}
	}
	known := map[string]bool{}
	for _, s := range MVBenchSubsets {
		known[s] = true
	}
	offset := 0
	for _, pt := range parts {
		t := pt.t
		if l.opts.Limit > 0 && ds.Rows >= l.opts.Limit {
			break
		}
		sub := *l
		sub.opts.Limit = 0
		if l.opts.Limit > 0 {
			sub.opts.Limit = l.opts.Limit - ds.Rows
		}
		before := len(ds.Problems)
		err := sub.eachRow(ctx, ds, t.rows, func(r int) (Query, error) {
			subset := pt.subset
			if subset == "" {
				subset = t.col("subset").at(r).str
			}
			if !known[subset] {
				return Query{}, skip("unknown MVBench subset %q", subset)
			}
			cands := t.col("candidates").at(r).list
			if len(cands) == 0 {
				return Query{}, skip("empty candidate list")
			}
			text, options := qaTemplate(query(t.col("question").at(r).str), cands)
			label, ok := qaLabel(cands, t.col("answer").at(r).str)
			if !ok {
				return Query{}, skip("answer %q is not one of the candidates", t.col("answer").at(r).str)
			}
			q, err := videoQuery(l, ds.Task, t.col("video").at(r), subset+"/", l.s(text))
			if err != nil {
				return q, err
			}
			for _, o := range options {
				q.Candidates = append(q.Candidates, Candidate{Name: l.s(o), Item: Item{Text: l.s(o)}})
			}
			q.Labels = []string{l.s(label)}
			q.Row = offset + r
			return q, nil
		})
		if err != nil {
			return err
		}
		for i := before; i < len(ds.Problems); i++ {
			ds.Problems[i].Row += offset
		}
		offset += t.rows
	}
	return nil
}

// videoQuery is a query row on the video named by cell (frames in
// <task.Dir>/<prefix><name>/).
func videoQuery(l *loader, task Task, cell pqCell, prefix, text string) (Query, error) {
	if cell.null || cell.str == "" {
		return Query{}, skip("video id is empty")
	}
	frames, ref, err := l.video(task, prefix+cell.str)
	if err != nil {
		return Query{}, err
	}
	return Query{ID: cell.str, Item: Item{Text: text, Video: frames, ref: ref}}, nil
}

// qaTemplate appends the lettered options to a question as the reference's
// qa_template does ("\nOptions:\n(A) …" per line, trailing whitespace
// stripped) and returns the query and the lettered options.
func qaTemplate(question string, cands []string) (string, []string) {
	var b strings.Builder
	b.WriteString(question)
	b.WriteString("\nOptions:\n")
	options := make([]string, len(cands))
	for i, c := range cands {
		options[i] = "(" + string(rune('A'+i)) + ") " + c
		b.WriteString(options[i])
		b.WriteByte('\n')
	}
	return instruct.PyRStrip(b.String()), options
}

// qaLabel is the lettered option equal to answer (the last one, if the
// answer repeats, as the reference's loop leaves it).
func qaLabel(cands []string, answer string) (string, bool) {
	idx := -1
	for i, c := range cands {
		if c == answer {
			idx = i
		}
	}
	if idx < 0 {
		return "", false
	}
	return "(" + string(rune('A'+idx)) + ") " + answer, true
}

// optionText is the text a "A. answer" option embeds: what follows the
// first ". ", with dots and spaces trimmed from both ends; an option
// without ". " keeps only its last character, as the reference's
// o[o.find('. '):].strip('. ') does.
func optionText(o string) string {
	i := strings.Index(o, ". ")
	if i < 0 {
		r := []rune(o)
		if len(r) == 0 {
			return ""
		}
		o = string(r[len(r)-1:])
	} else {
		o = o[i:]
	}
	return strings.Trim(o, ". ")
}

// answerIndex reads an option index stored as a number or as text.
func answerIndex(c pqCell, n int) (int, bool) {
	if c.null {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimFunc(c.str, unicode.IsSpace))
	if c.isNum {
		v, err = int(c.num), nil
		if float64(v) != c.num {
			return 0, false
		}
	}
	if err != nil || v < 0 || v >= n {
		return 0, false
	}
	return v, true
}
