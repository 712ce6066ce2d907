package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dlclark/regexp2"
)

// These tests use small inline tokenizer.json documents, so they run
// without the fetched reference files. Expected values were worked out by
// hand from the Rust algorithm (and agree with the golden files' behaviour).

// byteLevelDoc builds a GPT-2/Qwen-style tokenizer: the 256 ByteLevel chars
// as ids 0..255, then the given merges (each merged token gets the next id).
func byteLevelDoc(t testing.TB, preTok string, merges [][2]string, added string, arrayMerges bool) []byte {
	t.Helper()
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(byteChars[b])] = b
	}
	var mergeJSON any
	asStrings := []string{}
	if merges == nil {
		merges = [][2]string{}
	}
	for _, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			vocab[m[0]+m[1]] = len(vocab)
		}
		asStrings = append(asStrings, m[0]+" "+m[1])
	}
	if arrayMerges {
		mergeJSON = merges
	} else {
		mergeJSON = asStrings
	}
	model := map[string]any{"type": "BPE", "vocab": vocab, "merges": mergeJSON, "byte_fallback": false, "fuse_unk": false}
	m, _ := json.Marshal(model)
	if added == "" {
		added = "[]"
	}
	return []byte(fmt.Sprintf(`{"version":"1.0","truncation":null,"padding":null,"added_tokens":%s,
		"normalizer":{"type":"NFC"},"pre_tokenizer":%s,"post_processor":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false},
		"decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false},"model":%s}`, added, preTok, m))
}

const qwenPreTok = `{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]}`

var tinyMerges = [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"t", "he"}, {"Ġ", "c"}, {"a", "t"}, {"Ġc", "at"}}

func mustLoad(t testing.TB, doc []byte, cfg []byte) *GoTokenizer {
	t.Helper()
	tok, err := LoadBytes(doc, cfg)
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	return tok
}

func encode(t testing.TB, tok Tokenizer, s string, special bool) []int {
	t.Helper()
	ids, err := tok.Encode(s, special)
	if err != nil {
		t.Fatalf("Encode(%q): %v", s, err)
	}
	return ids
}

func decode(t testing.TB, tok Tokenizer, ids []int, skip bool) string {
	t.Helper()
	s, err := tok.Decode(ids, skip)
	if err != nil {
		t.Fatalf("Decode(%v): %v", ids, err)
	}
	return s
}

func TestByteLevelBPE(t *testing.T) {
	for _, arrays := range []bool{false, true} {
		tok := mustLoad(t, byteLevelDoc(t, qwenPreTok, tinyMerges, "", arrays), nil)
		id := func(s string) int {
			v, ok := tok.TokenToID(s)
			if !ok {
				t.Fatalf("no id for %q", s)
			}
			return v
		}
		// "the cat the" -> "the", "Ġcat", "Ġthe" after the Qwen split.
		got := encode(t, tok, "the cat the", true)
		want := []int{id("the"), id("Ġcat"), id("Ġthe")}
		if !slices.Equal(got, want) {
			t.Errorf("arrays=%v: got %v, want %v", arrays, got, want)
		}
		// Bytes without merges fall back to one id per byte.
		if got := encode(t, tok, "é", false); !slices.Equal(got, []int{0xC3, 0xA9}) {
			t.Errorf("é: got %v", got)
		}
		for _, s := range []string{"", "the cat", "  spaces\n\n", "日本 🎉", "e\u0301"} {
			if got := decode(t, tok, encode(t, tok, s, true), false); got != strings.ToValidUTF8(normNFC(s), "") {
				t.Errorf("round trip %q -> %q", s, got)
			}
		}
	}
}

func normNFC(s string) string { n, _ := unicodeNormNFC.normalize(s, 0); return n }

var unicodeNormNFC = mustNorm(`{"type":"NFC"}`)

func mustNorm(doc string) normalizer {
	n, err := parseNormalizer(json.RawMessage(doc))
	if err != nil {
		panic(err)
	}
	return n
}

// TestMergePriority: the lowest rank merges first, leftmost on ties, as in
// Word::merge_all.
func TestMergePriority(t *testing.T) {
	merges := [][2]string{{"a", "a"}, {"aa", "a"}, {"b", "c"}, {"a", "b"}}
	tok := mustLoad(t, byteLevelDoc(t, `{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}`, merges, "", false), nil)
	id := func(s string) int { v, _ := tok.TokenToID(s); return v }
	cases := map[string][]int{
		// (a,a)@0 merges before (a,a)@1 (leftmost), then (aa,a) -> "aaa".
		"aaa": {id("aaa")},
		// Both (a,a) pairs (rank 0) merge before (aa,a) (rank 1) could.
		"aaaa": {id("aa"), id("aa")},
		// (b,c) has rank 2, (a,b) rank 3: "bc" wins.
		"abc":  {id("a"), id("bc")},
		"aabc": {id("aa"), id("bc")},
		"ab":   {id("ab")},
		"":     nil,
	}
	for s, want := range cases {
		if got := encode(t, tok, s, false); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", s, got, want)
		}
	}
}

// spDoc is a SentencePiece-style (Llama/Mistral) BPE: Prepend + Replace
// normalizer, byte fallback, fused unknowns, BOS template.
func spDoc(byteFallback bool, extraVocab string) []byte {
	var b strings.Builder
	b.WriteString(`{"<unk>":0,"<s>":1,"</s>":2`)
	for i := 0; i < 256; i++ {
		if byteFallback || i < 0x80 {
			fmt.Fprintf(&b, `,"<0x%02X>":%d`, i, 3+i)
		}
	}
	b.WriteString(`,"▁":259,"a":260,"b":261,"▁a":262,"ab":263,"▁ab":264,"c":265` + extraVocab + `}`)
	return []byte(`{"version":"1.0","added_tokens":[
	 {"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
	 {"id":1,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
	 {"id":2,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
	"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
	"pre_tokenizer":null,
	"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
	  "pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
	"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
	"model":{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,
	  "fuse_unk":true,"byte_fallback":` + fmt.Sprint(byteFallback) + `,"vocab":` + b.String() + `,"merges":["▁ a","a b","▁a b"]}}`)
}

func TestSentencePieceBPE(t *testing.T) {
	tok := mustLoad(t, spDoc(true, ""), nil)
	if got := encode(t, tok, "ab a", true); !slices.Equal(got, []int{1, 264, 262}) {
		t.Errorf("ab a: got %v", got)
	}
	if got := encode(t, tok, "ab a", false); !slices.Equal(got, []int{264, 262}) {
		t.Errorf("no BOS: got %v", got)
	}
	// "é" is not in the vocabulary: byte fallback to <0xC3><0xA9>.
	if got := encode(t, tok, "é", false); !slices.Equal(got, []int{259, 3 + 0xC3, 3 + 0xA9}) {
		t.Errorf("é: got %v", got)
	}
	// Added tokens are split out before normalization; Prepend then applies
	// to each remaining piece (the Llama "legacy" behaviour).
	if got := encode(t, tok, "<s>a", false); !slices.Equal(got, []int{1, 262}) {
		t.Errorf("<s>a: got %v", got)
	}
	if got := decode(t, tok, []int{1, 264, 262}, false); got != "<s> ab a" {
		t.Errorf("decode: %q", got)
	}
	if got := decode(t, tok, []int{1, 264, 262}, true); got != "ab a" {
		t.Errorf("decode skip: %q", got)
	}
	// An incomplete UTF-8 byte run decodes to one U+FFFD per byte.
	if got := decode(t, tok, []int{259, 3 + 0xE2, 3 + 0x82, 260}, false); got != "\uFFFD\uFFFDa" {
		t.Errorf("partial bytes: %q", got)
	}
	// Unknown ids are skipped, as in Rust.
	if got := decode(t, tok, []int{262, 99999, -1, 262}, false); got != "a a" {
		t.Errorf("unknown ids: %q", got)
	}

	// Without byte fallback, consecutive unknown chars fuse into one <unk>.
	tok = mustLoad(t, spDoc(false, ""), nil)
	if got := encode(t, tok, "aéèb", false); !slices.Equal(got, []int{262, 0, 261}) {
		t.Errorf("fuse_unk: got %v", got)
	}
}

func TestIgnoreMerges(t *testing.T) {
	doc := byteLevelDoc(t, `{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":true}`, [][2]string{{"a", "b"}}, "", false)
	// Add "abc" to the vocabulary without any merge producing it.
	var f map[string]any
	if err := json.Unmarshal(doc, &f); err != nil {
		t.Fatal(err)
	}
	model := f["model"].(map[string]any)
	model["vocab"].(map[string]any)["abc"] = 300
	for _, ignore := range []bool{false, true} {
		model["ignore_merges"] = ignore
		doc, _ := json.Marshal(f)
		tok := mustLoad(t, doc, nil)
		got := encode(t, tok, "abc", false)
		want := []int{256, int('c')} // "ab" (id 256), then "c"
		if ignore {
			want = []int{300}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ignore_merges=%v: got %v, want %v", ignore, got, want)
		}
	}
}

func TestAddedTokenFlags(t *testing.T) {
	added := `[
	 {"id":300,"content":"<|a|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
	 {"id":301,"content":"<|r|>","single_word":false,"lstrip":false,"rstrip":true,"normalized":false,"special":true},
	 {"id":302,"content":"<|l|>","single_word":false,"lstrip":true,"rstrip":false,"normalized":false,"special":false},
	 {"id":303,"content":"cat","single_word":true,"lstrip":false,"rstrip":false,"normalized":false,"special":false},
	 {"id":304,"content":"<|a|>x","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":false}]`
	tok := mustLoad(t, byteLevelDoc(t, qwenPreTok, nil, added, false), nil)
	// Ids come from the vocabulary size (256), not from the JSON.
	for i, c := range []string{"<|a|>", "<|r|>", "<|l|>", "cat", "<|a|>x"} {
		if id, _ := tok.TokenToID(c); id != 256+i {
			t.Errorf("%q: id %d, want %d", c, id, 256+i)
		}
	}
	sp := int(' ') // the id of the byte's char is the byte here
	cases := []struct {
		in   string
		want []int
	}{
		{"<|a|>", []int{256}},
		{"<|a|>x", []int{260}},               // longest match wins
		{"<|r|>  y", []int{257, 'y'}},        // rstrip eats the spaces
		{"y  <|l|>", []int{'y', 258}},        // lstrip eats them on the left
		{"cat", []int{259}},                  // single word alone
		{"a cat.", []int{'a', sp, 259, '.'}}, // single word between non-word chars
		{"concatenate", nil},                 // inside a word: not matched (checked below)
		{" <|a|> ", []int{sp, 256, sp}},      // plain token keeps its spaces
		{"<|a|><|a|>", []int{256, 256}},      // adjacent
		{"<|a|", []int{'<', '|', 'a', '|'}},  // partial: plain text
		{"<|r|>\n\n<|a|>", []int{257, 256}},  // rstrip swallows newlines too
	}
	for _, c := range cases {
		got := encode(t, tok, c.in, false)
		if c.want == nil {
			if slices.Contains(got, 259) {
				t.Errorf("%q: single_word token matched inside a word: %v", c.in, got)
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
	if got := decode(t, tok, []int{256, 'h', 'i', 258}, true); got != "hi<|l|>" {
		t.Errorf("skip special keeps non-special added tokens: %q", got)
	}
}

func TestMetaspaceFirst(t *testing.T) {
	var f map[string]any
	if err := json.Unmarshal(spDoc(true, ""), &f); err != nil {
		t.Fatal(err)
	}
	f["normalizer"] = nil
	f["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	doc, _ := json.Marshal(f)
	tok := mustLoad(t, doc, nil)
	// Only the piece that starts the input gets the "▁".
	if got := encode(t, tok, "a<s>a", false); !slices.Equal(got, []int{262, 1, 260}) {
		t.Errorf("first: got %v", got)
	}
	f["pre_tokenizer"].(map[string]any)["prepend_scheme"] = "always"
	doc, _ = json.Marshal(f)
	tok = mustLoad(t, doc, nil)
	if got := encode(t, tok, "a<s>a", false); !slices.Equal(got, []int{262, 1, 262}) {
		t.Errorf("always: got %v", got)
	}
}

func TestUnsupported(t *testing.T) {
	cases := map[string][2]string{
		"normalizer":     {"normalizer", `{"type":"BertNormalizer"}`},
		"pre_tokenizer":  {"pre_tokenizer", `{"type":"Sequence","pretokenizers":[{"type":"Punctuation"}]}`},
		"decoder":        {"decoder", `{"type":"WordPiece","prefix":"##"}`},
		"post_processor": {"post_processor", `{"type":"Magic"}`},
		"model":          {"model", `{"type":"WordPiece","vocab":{}}`},
	}
	for kind, rep := range cases {
		var f map[string]json.RawMessage
		if err := json.Unmarshal(spDoc(true, ""), &f); err != nil {
			t.Fatal(err)
		}
		f[rep[0]] = json.RawMessage(rep[1])
		doc, _ := json.Marshal(f)
		_, err := LoadBytes(doc, nil)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Kind != kind {
			t.Errorf("%s: got %v, want an UnsupportedError for it", kind, err)
			continue
		}
		if !strings.Contains(err.Error(), ue.Type) {
			t.Errorf("%s: error %q does not name the type", kind, err)
		}
	}
	bad := []string{
		``, `{`, `[]`, `{"model":null}`, `{"version":"2.0","model":{"type":"BPE","vocab":{},"merges":[]}}`,
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`,
		`{"model":{"type":"BPE","vocab":{"a":-1},"merges":[]}}`,
		`{"model":{"type":"BPE","vocab":{},"merges":[["a"]]}}`,
		`{"model":{"type":"BPE","vocab":{},"merges":[]},"truncation":{"max_length":4}}`,
		`{"model":{"type":"BPE","vocab":{},"merges":[],"dropout":0.1}}`,
		`{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"("},"behavior":"Isolated","invert":false}}`,
		`{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":{"type":"Metaspace","replacement":"ab"}}`,
		`{"model":{"type":"BPE","vocab":{},"merges":[]},"normalizer":{"no_type":1}}`,
	}
	for _, doc := range bad {
		if _, err := LoadBytes([]byte(doc), nil); err == nil {
			t.Errorf("LoadBytes(%q) succeeded, want an error", doc)
		}
	}
}

func TestInvalidUTF8(t *testing.T) {
	tok := mustLoad(t, spDoc(true, ""), nil)
	if _, err := tok.Encode("a\xffb", false); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("got %v, want ErrInvalidUTF8", err)
	}
}

func TestRustLossyUTF8(t *testing.T) {
	// Expected values are what Rust's String::from_utf8_lossy returns.
	cases := map[string]string{
		"abc":                "abc",
		"\xe2\x82":           "\uFFFD",       // truncated 3-byte sequence: one replacement
		"\xe2\x82a":          "\uFFFDa",      //
		"\xf0\x9f\x98":       "\uFFFD",       // truncated 4-byte sequence
		"\xc0\x80":           "\uFFFD\uFFFD", // overlong: each byte
		"\xed\xa0\x80":       "\uFFFD\uFFFD\uFFFD",
		"\xff\xfe":           "\uFFFD\uFFFD",
		"\xe0\x80\x80":       "\uFFFD\uFFFD\uFFFD",
		"\xf4\x90\x80\x80":   "\uFFFD\uFFFD\uFFFD\uFFFD",
		"a\xf0\x9f\x98\x80b": "a😀b",
	}
	for in, want := range cases {
		if got := rustLossyUTF8([]byte(in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// TestHandMatchersAgainstRegexp2 cross-checks the hand-written pattern
// matchers with regexp2 running the same patterns.
func TestHandMatchersAgainstRegexp2(t *testing.T) {
	pool := []rune("aZé中ひ한ß0٣½ \t\n\r\u00a0\u3000\u2028'sStTrRvVmMlLdD.,!?-_\u0301\u200b😀🇯🇵\u0085ſKİ")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		pattern string
		m       matcher
	}{{gpt2Pattern, gpt2Matcher{}}, {qwen2Pattern, qwenMatcher{1}}, {llama3Pattern, qwenMatcher{3}}} {
		re := regexp2.MustCompile(c.pattern, regexp2.None)
		ref := &regexMatcher{re: re}
		for i := 0; i < 3000; i++ {
			n := rng.IntN(24)
			rs := make([]rune, n)
			for k := range rs {
				rs[k] = pool[rng.IntN(len(pool))]
			}
			s := string(rs)
			got, _ := c.m.findAll(s, nil)
			want, err := ref.findAll(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pattern %q on %q:\n hand    %v\n regexp2 %v", c.pattern, s, got, want)
			}
		}
	}
}

func TestSpecialFromConfig(t *testing.T) {
	cfg := `{"bos_token":"<s>","eos_token":{"content":"</s>","lstrip":false},"pad_token":null,
	  "unk_token":"<unk>","add_bos_token":true,"padding_side":"left","model_max_length":1e30}`
	tok := mustLoad(t, spDoc(true, ""), []byte(cfg))
	want := SpecialTokens{PadToken: "", BOSToken: "<s>", EOSToken: "</s>", UNKToken: "<unk>",
		PadID: -1, BOSID: 1, EOSID: 2, UNKID: 0, AddBOS: true, PaddingSide: "left"}
	if got := tok.Special(); got != want {
		t.Errorf("Special() = %+v\nwant %+v", got, want)
	}
	if tok.Config() == nil || tok.Config().BOSToken == nil {
		t.Error("Config() not kept")
	}
	if _, err := LoadBytes(spDoc(true, ""), []byte(`{"bos_token":[1]}`)); err == nil {
		t.Error("bad tokenizer_config.json accepted")
	}
}

func TestVocabAccessors(t *testing.T) {
	tok := mustLoad(t, spDoc(true, ""), nil)
	if got := tok.VocabSize(); got != 266 {
		t.Errorf("VocabSize = %d", got)
	}
	if s, ok := tok.IDToToken(262); !ok || s != "▁a" {
		t.Errorf("IDToToken(262) = %q %v", s, ok)
	}
	if _, ok := tok.IDToToken(-5); ok {
		t.Error("negative id resolved")
	}
	if id, ok := tok.TokenToID("</s>"); !ok || id != 2 {
		t.Errorf("TokenToID(</s>) = %d %v", id, ok)
	}
	if len(tok.AddedTokens()) != 3 {
		t.Errorf("AddedTokens: %v", tok.AddedTokens())
	}
}

// TestConcurrentEncode runs encodes from many goroutines (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok := mustLoad(t, byteLevelDoc(t, qwenPreTok, tinyMerges, "", false), nil)
	inputs := []string{"the cat the cat", "日本語 text", "  spaces  ", "cat\ncat\r\n", "the"}
	want := make([][]int, len(inputs))
	for i, s := range inputs {
		want[i] = encode(t, tok, s, true)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				i := k % len(inputs)
				got, err := tok.Encode(inputs[i], true)
				if err != nil || !slices.Equal(got, want[i]) {
					t.Errorf("concurrent %q: %v %v", inputs[i], got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRegisteredGo(t *testing.T) {
	if implementations["go"] == nil {
		t.Fatal(`implementations["go"] is not registered`)
	}
	if _, err := implementations["go"]("/nonexistent/tokenizer.json"); err == nil {
		t.Error("loading a missing file succeeded")
	}
}

// TestSpecialFetched checks Special() on the fetched files (skipped when
// they are absent): the ids the model code relies on.
func TestSpecialFetched(t *testing.T) {
	cases := map[string]SpecialTokens{
		"qwen3": {EOSToken: "<|im_end|>", PadToken: "<|endoftext|>", PadID: 151643, BOSID: -1, EOSID: 151645,
			UNKID: -1, PaddingSide: "right", ModelMaxLength: 131072},
		"mistral": {BOSToken: "<s>", EOSToken: "</s>", UNKToken: "<unk>", PadID: -1, BOSID: 1, EOSID: 2, UNKID: 0,
			AddBOS: true, PaddingSide: "right"},
		"phi3-style": {BOSToken: "<s>", EOSToken: "<|endoftext|>", PadToken: "<|endoftext|>", UNKToken: "<unk>",
			PadID: 32000, BOSID: 1, EOSID: 32000, UNKID: 0, AddBOS: true, PaddingSide: "right", ModelMaxLength: 131072},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			tok, err := LoadFile(tokenizerPath(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Special(); got != want {
				t.Errorf("Special() = %+v\nwant %+v", got, want)
			}
		})
	}
	// The Qwen2-VL ids the vision code uses.
	t.Run("qwen3-vision-ids", func(t *testing.T) {
		tok, err := FromFile(tokenizerPath(t, "qwen3"))
		if err != nil {
			t.Fatal(err)
		}
		for tok2, want := range map[string]int{"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645,
			"<|vision_start|>": 151652, "<|vision_end|>": 151653, "<|image_pad|>": 151655, "<|video_pad|>": 151656} {
			if id, ok := tok.TokenToID(tok2); !ok || id != want {
				t.Errorf("%s: %d %v, want %d", tok2, id, ok, want)
			}
			if got := encode(t, tok, tok2, true); !slices.Equal(got, []int{want}) {
				t.Errorf("Encode(%s) = %v", tok2, got)
			}
		}
	})
}
