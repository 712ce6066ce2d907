package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

var fuzzToks struct {
	once sync.Once
	tiny *GoTokenizer // inline byte-level BPE, always there
	qwen *GoTokenizer // the fetched Qwen3 file, when present
	mis  *GoTokenizer // the fetched Mistral file, when present
}

func fuzzTokenizers(t testing.TB) {
	fuzzToks.once.Do(func() {
		added := `[{"id":0,"content":"<|x|>","single_word":false,"lstrip":false,"rstrip":true,"normalized":false,"special":true}]`
		fuzzToks.tiny = mustLoad(t, byteLevelDoc(t, qwenPreTok, tinyMerges, added, false), nil)
		dir := tokenizersDir(t)
		if p := filepath.Join(dir, "qwen3", "tokenizer.json"); fileExists(p) {
			fuzzToks.qwen, _ = LoadFile(p)
		}
		if p := filepath.Join(dir, "mistral", "tokenizer.json"); fileExists(p) {
			fuzzToks.mis, _ = LoadFile(p)
		}
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// FuzzEncode: any string encodes without panicking; invalid UTF-8 is an
// error; for byte-level BPE, decoding gives back the (NFC-normalized) text
// whenever it holds no added token.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "hello world", "  \n\t ", "日本語", "e\u0301", "<|x|>  a", "<|im_start|>hi",
		"x" + strings.Repeat(" ", 20), "'s 'LL", "\xff", "🏳️‍🌈", "123456", "\r\n\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzTokenizers(t)
		type byteLevel struct {
			tok   *GoTokenizer
			added []string
		}
		bl := []byteLevel{{fuzzToks.tiny, []string{"<|x|>"}}}
		if fuzzToks.qwen != nil {
			var added []string
			for _, a := range fuzzToks.qwen.AddedTokens() {
				added = append(added, a.Content)
			}
			bl = append(bl, byteLevel{fuzzToks.qwen, added})
		}
		for _, c := range bl {
			ids, err := c.tok.Encode(s, true)
			if !utf8.ValidString(s) {
				if err != ErrInvalidUTF8 {
					t.Fatalf("invalid UTF-8 %q: err %v", s, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Encode(%q): %v", s, err)
			}
			if slices.ContainsFunc(c.added, func(a string) bool { return strings.Contains(s, a) }) {
				continue
			}
			got, err := c.tok.Decode(ids, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := normNFC(s); got != want {
				t.Fatalf("round trip of %q: got %q, want %q (ids %v)", s, got, want, ids)
			}
		}
		if fuzzToks.mis != nil {
			ids, err := fuzzToks.mis.Encode(s, true)
			if err == nil {
				for _, id := range ids {
					if id < 0 || id >= fuzzToks.mis.VocabSize() {
						t.Fatalf("id %d out of range", id)
					}
				}
				if _, err := fuzzToks.mis.Decode(ids, true); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// FuzzFromBytes: hostile tokenizer.json bytes give an error, never a
// panic, and whatever loads can encode and decode without panicking.
func FuzzFromBytes(f *testing.F) {
	f.Add(spDoc(true, ""))
	f.Add(spDoc(false, `,"ab▁":266`))
	f.Add(byteLevelDoc(f, qwenPreTok, tinyMerges, "", false))
	f.Add(byteLevelDoc(f, `{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, tinyMerges, "", true))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"],"unk_token":"<unk>","continuing_subword_prefix":"##","end_of_word_suffix":"</w>"},
		"pre_tokenizer":{"type":"Metaspace","replacement":"_","prepend_scheme":"first","split":true},
		"decoder":{"type":"Sequence","decoders":[{"type":"Strip","content":"_","start":3,"stop":3},{"type":"BPEDecoder"}]}}`))
	f.Add([]byte(`{"model":{"vocab":{},"merges":[]},"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKD"},{"type":"Lowercase"},{"type":"Strip","strip_left":true,"strip_right":false}]},
		"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":false},{"type":"Whitespace"},{"type":"Split","pattern":{"String":""},"behavior":"MergedWithNext","invert":true}]},
		"post_processor":{"type":"Sequence","processors":[{"type":"ByteLevel"},{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := LoadBytes(data, nil)
		if err != nil {
			return
		}
		for _, s := range []string{"", "a b", "ab ab  héllo <s> 123", "  \n\t", "日本"} {
			if _, err := tok.Encode(s, true); err != nil {
				continue
			}
		}
		for _, skip := range []bool{false, true} {
			if _, err := tok.Decode([]int{0, 1, 2, 3, 259, 1 << 20, -1}, skip); err != nil {
				t.Fatal(err)
			}
		}
		tok.VocabSize()
		tok.TokenToID("a")
		tok.IDToToken(0)
	})
}

// FuzzTokenizerConfig: tokenizer_config.json of any shape parses or fails,
// without panicking.
func FuzzTokenizerConfig(f *testing.F) {
	for _, p := range []string{"../qwen2vl/testdata/tiny-a/tokenizer_config.json", "../phi3v/testdata/tiny-phi3v/tokenizer_config.json", "../llavanext/testdata/tiny-llava/tokenizer_config.json"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": null, "added_tokens_decoder": {"5": {"content": "x"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseTokenizerConfig(data)
	})
}
