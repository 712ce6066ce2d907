package evalcmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/vlm2vec/internal/atomicfile"
	"github.com/org/vlm2vec/mmeb"
)

// runAggregate prints the V1/V2 tables of existing results, one model per
// source: a directory of <dataset>_score.json files (flat, as this command
// writes them, or in the reference's image/, video/ and visdoc/
// subdirectories) or an all-scores report file. Datasets without scores
// are listed, not fatal. With out, it also writes all_scores.json per
// model (for directories), table.md and v2_table.png there.
func runAggregate(sources []string, out string, stdout, stderr io.Writer) error {
	if len(sources) == 0 {
		return errors.New("--aggregate needs one or more result directories or all_scores.json files as arguments")
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
	}
	var names []string
	var mains []map[string]float64
	var b strings.Builder
	for _, src := range sources {
		a, err := readScores(src)
		if err != nil {
			return err
		}
		name, _ := a.Metadata["model_name"].(string)
		if name == "" {
			name = filepath.Base(strings.TrimSuffix(filepath.Clean(src), ".json"))
		}
		names = append(names, name)
		mains = append(mains, a.MainScores())
		if miss := a.Missing(mmeb.Tasks()); len(miss) > 0 {
			fmt.Fprintf(stderr, "%s: no scores for %d of 78 datasets: %s\n", name, len(miss), strings.Join(miss, ", "))
		}
		if st, err := os.Stat(src); err == nil && st.IsDir() && out != "" {
			data, err := a.MarshalJSON()
			if err != nil {
				return err
			}
			if err := atomicfile.WriteBytes(filepath.Join(out, safeName(name)+"_all_scores.json"), data, 0o644); err != nil {
				return err
			}
		}
	}
	for _, v := range []struct {
		title string
		table func(map[string]float64) []mmeb.Aggregate
	}{{"MMEB-V1 (Precision@1, %)", mmeb.V1Table}, {"MMEB-V2 (image/video hit@1, visdoc NDCG@5, %)", mmeb.V2Table}} {
		fmt.Fprintf(&b, "## %s\n\n", v.title)
		for i, name := range names {
			md := mmeb.Markdown(name, v.table(mains[i]))
			if i > 0 { // one header for all models
				md = md[strings.Index(md, "\n")+1:]
				md = md[strings.Index(md, "\n")+1:]
			}
			b.WriteString(md)
		}
		b.WriteString("\n")
	}
	b.WriteString("Groups marked (n/N) are means over the n datasets scored, not the full benchmark.\n")
	fmt.Fprint(stdout, b.String())
	if out == "" {
		return nil
	}
	if err := atomicfile.WriteBytes(filepath.Join(out, "table.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return writeTablePlot(out, names, mains)
}

// readScores reads one aggregate source.
func readScores(src string) (*mmeb.AllScores, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		a, err := mmeb.ReadAllScores(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		return a, nil
	}
	a, err := mmeb.ReadScoreDir(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return a, nil
}

// writeTablePlot writes v2_table.png: the V2 table of each model.
func writeTablePlot(out string, names []string, mains []map[string]float64) error {
	tables := make([][]mmeb.Aggregate, len(mains))
	for i, m := range mains {
		tables[i] = mmeb.V2Table(m)
	}
	return atomicfile.Write(filepath.Join(out, "v2_table.png"), 0o644, func(f *os.File) error {
		return mmeb.PlotTablePNG(f, "MMEB-V2 by meta-task", names, tables)
	})
}

// safeName keeps a model name usable as a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}
