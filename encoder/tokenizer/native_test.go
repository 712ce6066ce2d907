//go:build tokenizers_native

package tokenizer

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Two tiny tokenizer.json files, so that these tests need no download: a
// WordLevel model (vocab as a map) with a BOS template, and a Unigram model
// (vocab as a list).
const nativeWordLevelJSON = `{
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [
    {"id": 3, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 4, "content": "<extra>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "Whitespace"},
  "post_processor": {
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [3], "tokens": ["<s>"]}}
  },
  "decoder": null,
  "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1, "world": 2}, "unk_token": "[UNK]"}
}`

const nativeUnigramJSON = `{
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [],
  "normalizer": null,
  "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
  "post_processor": null,
  "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
  "model": {
    "type": "Unigram",
    "unk_id": 0,
    "vocab": [["<unk>", 0.0], ["▁hello", -1.0], ["▁world", -1.5], ["▁", -3.0],
              ["h", -5.0], ["e", -5.0], ["l", -5.0], ["o", -5.0], ["w", -5.0], ["r", -5.0], ["d", -5.0]],
    "byte_fallback": false
  }
}`

func newNativeFromString(t testing.TB, content string) Tokenizer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := NewNative(path)
	if err != nil {
		t.Fatalf("NewNative: %v", err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

func TestNativeRegistered(t *testing.T) {
	if implementations["native"] == nil {
		t.Fatal(`implementations["native"] is not registered`)
	}
}

func TestNativeWordLevel(t *testing.T) {
	tok := newNativeFromString(t, nativeWordLevelJSON)

	for _, c := range []struct {
		text    string
		special bool
		want    []int
	}{
		{"hello world", false, []int{1, 2}},
		{"hello world", true, []int{3, 1, 2}},
		{"hello <extra> nope", false, []int{1, 4, 0}},
		{"", false, nil},
	} {
		got, err := tok.Encode(c.text, c.special)
		if err != nil {
			t.Fatalf("Encode(%q): %v", c.text, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q, %v) = %v, want %v", c.text, c.special, got, c.want)
		}
	}

	for _, c := range []struct {
		ids  []int
		skip bool
		want string
	}{
		{[]int{3, 1, 2}, false, "<s> hello world"},
		{[]int{3, 1, 2}, true, "hello world"},
		{[]int{1, 4}, true, "hello <extra>"},    // not special: kept
		{[]int{1, 99, 2}, false, "hello world"}, // unknown ids are skipped
		{nil, false, ""},
	} {
		got, err := tok.Decode(c.ids, c.skip)
		if err != nil {
			t.Fatalf("Decode(%v): %v", c.ids, err)
		}
		if got != c.want {
			t.Errorf("Decode(%v, %v) = %q, want %q", c.ids, c.skip, got, c.want)
		}
	}
	if _, err := tok.Decode([]int{1, -1}, false); err == nil {
		t.Error("Decode of a negative id: want an error")
	}

	for token, id := range map[string]int{"[UNK]": 0, "world": 2, "<s>": 3, "<extra>": 4} {
		if got, ok := tok.TokenToID(token); !ok || got != id {
			t.Errorf("TokenToID(%q) = %d, %v; want %d", token, got, ok, id)
		}
		if got, ok := tok.IDToToken(id); !ok || got != token {
			t.Errorf("IDToToken(%d) = %q, %v; want %q", id, got, ok, token)
		}
	}
	if _, ok := tok.TokenToID("missing"); ok {
		t.Error(`TokenToID("missing"): want not found`)
	}
	if _, ok := tok.IDToToken(5); ok {
		t.Error("IDToToken(5): want not found")
	}
	if got := tok.VocabSize(); got != 5 {
		t.Errorf("VocabSize = %d, want 5", got)
	}
}

func TestNativeUnigram(t *testing.T) {
	tok := newNativeFromString(t, nativeUnigramJSON)
	got, err := tok.Encode("hello world", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if s, err := tok.Decode(got, false); err != nil || s != "hello world" {
		t.Errorf("Decode = %q, %v; want %q", s, err, "hello world")
	}
	if id, ok := tok.TokenToID("▁world"); !ok || id != 2 {
		t.Errorf(`TokenToID("▁world") = %d, %v; want 2`, id, ok)
	}
	if s, ok := tok.IDToToken(10); !ok || s != "d" {
		t.Errorf("IDToToken(10) = %q, %v; want \"d\"", s, ok)
	}
	if n := tok.VocabSize(); n != 11 {
		t.Errorf("VocabSize = %d, want 11", n)
	}
}

// The Rust library ignores the ids in added_tokens and assigns its own; the
// lookups must follow it, not the file.
func TestNativeAddedTokenIDs(t *testing.T) {
	content := strings.NewReplacer(`"id": 3, "content": "<s>"`, `"id": 7, "content": "<s>"`,
		`"id": 4, "content": "<extra>"`, `"id": 9, "content": "<extra>"`).Replace(nativeWordLevelJSON)
	content = strings.Replace(content, `"added_tokens": [`,
		`"added_tokens": [{"id": 42, "content": "world", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false},`, 1)
	content = strings.Replace(content, `"ids": [3]`, `"ids": [7]`, 1)
	tok := newNativeFromString(t, content)

	ids, err := tok.Encode("world <extra> <s>", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 4, 3}; !slices.Equal(ids, want) {
		t.Fatalf("Encode = %v, want %v", ids, want)
	}
	for token, want := range map[string]int{"world": 2, "<extra>": 4, "<s>": 3} {
		if id, ok := tok.TokenToID(token); !ok || id != want {
			t.Errorf("TokenToID(%q) = %d, %v; want %d", token, id, ok, want)
		}
		if s, ok := tok.IDToToken(want); !ok || s != token {
			t.Errorf("IDToToken(%d) = %q, %v; want %q", want, s, ok, token)
		}
	}
	if _, ok := tok.IDToToken(7); ok {
		t.Error("IDToToken(7): the file's id, not the one the library uses")
	}
	if n := tok.VocabSize(); n != 5 {
		t.Errorf("VocabSize = %d, want 5", n)
	}
}

// An added token marked "normalized" is known by its content in TokenToID and
// by its normalized form in IDToToken, as in the Rust library.
func TestNativeNormalizedAddedToken(t *testing.T) {
	content := strings.Replace(nativeWordLevelJSON, `"normalizer": null`, `"normalizer": {"type": "Lowercase"}`, 1)
	content = strings.Replace(content, `"content": "<extra>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false`,
		`"content": "<EXTRA>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true`, 1)
	tok := newNativeFromString(t, content)
	if ids, _ := tok.Encode("HELLO <Extra>", false); !slices.Equal(ids, []int{1, 4}) {
		t.Errorf("Encode = %v, want [1 4]", ids)
	}
	if id, ok := tok.TokenToID("<EXTRA>"); !ok || id != 4 {
		t.Errorf(`TokenToID("<EXTRA>") = %d, %v; want 4`, id, ok)
	}
	if s, ok := tok.IDToToken(4); !ok || s != "<extra>" {
		t.Errorf(`IDToToken(4) = %q, %v; want "<extra>"`, s, ok)
	}
	if s, _ := tok.Decode([]int{1, 4}, false); s != "hello <extra>" {
		t.Errorf("Decode = %q, want %q", s, "hello <extra>")
	}
}

func TestNativeNULByte(t *testing.T) {
	tok := newNativeFromString(t, nativeWordLevelJSON)
	if _, err := tok.Encode("hello\x00world", false); err == nil {
		t.Error("Encode of a text with NUL: want an error, the C interface would truncate it")
	}
}

func TestNativeClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(nativeWordLevelJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := NewNative(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := tok.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tok.Encode("hello", false); err == nil {
		t.Error("Encode after Close: want an error")
	}
	if _, err := tok.Decode([]int{1}, false); err == nil {
		t.Error("Decode after Close: want an error")
	}
	if n := tok.VocabSize(); n != 5 {
		t.Errorf("VocabSize after Close = %d, want 5", n)
	}
	if id, ok := tok.TokenToID("hello"); !ok || id != 1 {
		t.Errorf("TokenToID after Close = %d, %v; want 1, true", id, ok)
	}
}

func TestNativeBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewNative(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: want an error")
	}
	for name, content := range map[string]string{
		"notjson.json":  "not json",
		"novocab.json":  `{"model": {"type": "BPE"}}`,
		"badmodel.json": strings.Replace(nativeWordLevelJSON, `"WordLevel"`, `"NoSuchModel"`, 1),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if tok, err := NewNative(path); err == nil {
			tok.Close()
			t.Errorf("%s: want an error", name)
		}
	}
}

// nativeRealFiles lists real tokenizer.json files to test on: the ones named
// in $NATIVE_TOKENIZER_JSON (colon-separated) and those that
// scripts/fetch_tokenizers.sh put in $VLM2VEC_TOKENIZERS_DIR (by default
// .cache/tokenizers).
func nativeRealFiles(t testing.TB) []string {
	var files []string
	for _, f := range filepath.SplitList(os.Getenv("NATIVE_TOKENIZER_JSON")) {
		if f != "" {
			files = append(files, f)
		}
	}
	dir := os.Getenv("VLM2VEC_TOKENIZERS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "tokenizers")
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*", "tokenizer.json"))
	files = append(files, m...)
	if len(files) == 0 {
		t.Skip("no real tokenizer.json: run scripts/fetch_tokenizers.sh or set NATIVE_TOKENIZER_JSON")
	}
	return files
}

var nativeSampleTexts = []string{
	"Hello world",
	"Represent the given image with the following question: What is in the image?",
	"  leading spaces, trailing spaces  ",
	"numbers 1234567 and 3.14159, emoji 🙂, 中文文本, naïve café",
	"<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe it.<|im_end|>",
}

func TestNativeRealFiles(t *testing.T) {
	for _, path := range nativeRealFiles(t) {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			tok, err := NewNative(path)
			if err != nil {
				t.Fatal(err)
			}
			defer tok.Close()

			n := tok.VocabSize()
			if n <= 0 {
				t.Fatalf("VocabSize = %d", n)
			}
			// Correctness is the golden tests' job; this checks that every id
			// Encode gives has a token in the lookups read from the JSON.
			nt := tok.(*nativeTokenizer)
			for _, text := range nativeSampleTexts {
				ids, err := tok.Encode(text, false)
				if err != nil {
					t.Fatalf("Encode(%q): %v", text, err)
				}
				if len(ids) == 0 {
					t.Fatalf("Encode(%q) is empty", text)
				}
				for _, id := range ids {
					token, ok := tok.IDToToken(id)
					if !ok {
						t.Fatalf("IDToToken(%d) (from %q): not found", id, text)
					}
					if _, added := nt.addedByToken[token]; !added {
						if _, added = nt.addedByID[id]; added {
							continue // a normalized added token: see IDToToken
						}
					}
					back, ok := tok.TokenToID(token)
					if again, _ := tok.IDToToken(back); !ok || again != token {
						t.Fatalf("TokenToID(%q) = %d, %v: does not map back", token, back, ok)
					}
				}
				if _, err := tok.Decode(ids, false); err != nil {
					t.Fatalf("Decode: %v", err)
				}
			}

			// The lookups cover what the library counts, and each added
			// token's id is the one the library gives it.
			union := len(nt.vocabByToken)
			for token := range nt.addedByToken {
				if _, ok := nt.vocabByToken[token]; !ok {
					union++
				}
			}
			if union != n {
				t.Errorf("lookups hold %d tokens, VocabSize = %d", union, n)
			}
			added := slices.Sorted(maps.Keys(nt.addedByID))
			step := max(1, len(added)/200) // a sample: gemma3 has thousands
			for i := 0; i < len(added); i += step {
				id := added[i]
				var token string
				for content, cid := range nt.addedByToken {
					if cid == id {
						token = content
						break
					}
				}
				ids, _ := tok.Encode(token, false)
				if !slices.Contains(ids, id) {
					t.Errorf("Encode(%q) = %v, want it to hold TokenToID = %d", token, ids, id)
				}
			}

			// An added token named in the text is a single id.
			if id, ok := tok.(*nativeTokenizer).addedByToken["<|im_start|>"]; ok {
				ids, _ := tok.Encode("<|im_start|>user", false)
				if len(ids) == 0 || ids[0] != id {
					t.Errorf(`Encode("<|im_start|>user") = %v, want %d first`, ids, id)
				}
			}

			// A decoded NUL byte cannot cross the C interface: an error, not "".
			// Byte fallback spells byte 0 "<0x00>"; byte-level BPE spells it "Ā"
			// (elsewhere "Ā" is a plain letter).
			nul := "Ā"
			if _, ok := tok.TokenToID("<0x00>"); ok {
				nul = "<0x00>"
			}
			if id, ok := tok.TokenToID(nul); ok {
				if s, err := tok.Decode([]int{id}, false); err == nil {
					t.Errorf("Decode([%d] = %q) = %q, nil; want an error", id, nul, s)
				}
			}

			// Concurrent use.
			want, _ := tok.Encode(nativeSampleTexts[3], true)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 20 {
						got, err := tok.Encode(nativeSampleTexts[3], true)
						if err != nil || !slices.Equal(got, want) {
							t.Errorf("concurrent Encode = %v, %v; want %v", got, err, want)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
