package tokenizer

import (
	"strings"
	"testing"
)

// benchTokenizers are the files BenchmarkEncode runs on: the two backbone
// families plus Llama-3 (ignore_merges, 3-digit groups).
var benchTokenizers = []string{"qwen3", "mistral", "llama3"}

// goldenTexts returns the strings of a golden file.
func goldenTexts(tb testing.TB, name string) []string {
	_, cases := readGolden(tb, "testdata/golden_"+name+".jsonl.gz")
	var texts []string
	for _, c := range cases {
		if c.Text != nil {
			texts = append(texts, *c.Text)
		}
	}
	return texts
}

// BenchmarkEncode encodes every golden string once per iteration and
// reports tokens/s. "go-nocache" is the pure-Go implementation with its
// word cache disabled, i.e. the cost of merging every word.
func BenchmarkEncode(b *testing.B) {
	impls := implNames()
	impls = append(impls, "go-nocache")
	for _, impl := range impls {
		for _, name := range benchTokenizers {
			b.Run(impl+"/"+name, func(b *testing.B) {
				path := tokenizerPath(b, name)
				texts := goldenTexts(b, name)
				load := implementations[impl]
				if impl == "go-nocache" {
					load = implementations["go"]
				}
				tok, err := load(path)
				if err != nil {
					b.Fatal(err)
				}
				defer tok.Close()
				if impl == "go-nocache" {
					tok.(*GoTokenizer).model.noCache = true
				}
				bytes := 0
				for _, s := range texts {
					bytes += len(s)
				}
				b.SetBytes(int64(bytes))
				tokens := 0
				b.ResetTimer()
				for b.Loop() {
					for _, s := range texts {
						if impl == "native" && strings.Contains(s, "\x00") {
							continue // C strings cannot carry NUL
						}
						ids, err := tok.Encode(s, true)
						if err != nil {
							b.Fatal(err)
						}
						tokens += len(ids)
					}
				}
				b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
