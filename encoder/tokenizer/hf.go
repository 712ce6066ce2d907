package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"
)

func init() {
	implementations["go"] = func(path string) (Tokenizer, error) { return FromFile(path) }
}

// GoTokenizer is the pure-Go implementation of a Hugging Face tokenizer.json
// tokenizer. It reproduces the Rust tokenizers library (v0.23) step by step:
// added-token extraction, normalizer, pre-tokenizer, BPE model,
// post-processor and decoder.
//
// A GoTokenizer is immutable after loading and safe for concurrent use.
type GoTokenizer struct {
	added   *addedVocab
	norm    normalizer // nil: none
	pretok  preTokenizer
	model   *bpeModel
	post    postProcessor // nil: none
	decoder decoder       // nil: tokens joined with " "

	special SpecialTokens
	cfg     *TokenizerConfig // nil when there was no tokenizer_config.json

	scratch sync.Pool // *encodeScratch
}

// encodeScratch holds the buffers one Encode call reuses, so steady-state
// encoding allocates little more than its result.
type encodeScratch struct {
	pieces, next []piece
	spans        []span
	ids          []int32
	bpe          bpeScratch
}

// FromFile loads dir/tokenizer.json with the pure-Go implementation, plus
// tokenizer_config.json from the same directory when present (it only feeds
// Special; encoding follows tokenizer.json alone, as the tokenizers library
// does).
//
// It returns the Tokenizer interface; use LoadFile for the concrete type.
func FromFile(path string) (Tokenizer, error) {
	t, err := LoadFile(path)
	if err != nil {
		return nil, err // a typed nil would make a non-nil interface
	}
	return t, nil
}

// FromBytes builds a pure-Go tokenizer from the contents of a tokenizer.json.
func FromBytes(tokenizerJSON []byte) (Tokenizer, error) {
	t, err := LoadBytes(tokenizerJSON, nil)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// LoadFile is FromFile returning the concrete *GoTokenizer, which also
// exposes Special and Config.
func LoadFile(path string) (*GoTokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var cfg []byte
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	if c, err := os.ReadFile(cfgPath); err == nil {
		cfg = c
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := LoadBytes(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// LoadBytes builds a pure-Go tokenizer from the contents of tokenizer.json
// and, optionally (nil to skip), tokenizer_config.json.
func LoadBytes(tokenizerJSON, tokenizerConfigJSON []byte) (*GoTokenizer, error) {
	t, err := parseTokenizerJSON(tokenizerJSON)
	if err != nil {
		return nil, err
	}
	if tokenizerConfigJSON != nil {
		cfg, err := parseTokenizerConfig(tokenizerConfigJSON)
		if err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %w", err)
		}
		t.cfg = cfg
	}
	t.special = t.resolveSpecial()
	return t, nil
}

// ErrInvalidUTF8 is returned by Encode for text that is not valid UTF-8: the
// reference works on Rust strings, which cannot hold such text, so there is
// no exact answer to give.
var ErrInvalidUTF8 = errors.New("tokenizer: text is not valid UTF-8")

// Encode implements Tokenizer.
func (t *GoTokenizer) Encode(text string, addSpecialTokens bool) ([]int, error) {
	sc := t.getScratch()
	defer t.scratch.Put(sc)
	ids, err := t.encode32(sc, text, addSpecialTokens)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out, nil
}

// EncodeInt32 is Encode returning int32 ids, appended to dst (which may be
// nil); it saves a conversion for callers that build tensors.
func (t *GoTokenizer) EncodeInt32(dst []int32, text string, addSpecialTokens bool) ([]int32, error) {
	sc := t.getScratch()
	defer t.scratch.Put(sc)
	ids, err := t.encode32(sc, text, addSpecialTokens)
	if err != nil {
		return dst, err
	}
	return append(dst, ids...), nil
}

func (t *GoTokenizer) getScratch() *encodeScratch {
	if v := t.scratch.Get(); v != nil {
		return v.(*encodeScratch)
	}
	return &encodeScratch{}
}

// encode32 runs the whole pipeline; the result aliases sc.ids.
func (t *GoTokenizer) encode32(sc *encodeScratch, text string, addSpecial bool) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, ErrInvalidUTF8
	}
	ids := sc.ids[:0]
	var err error
	// 1. Added tokens that match the raw text (normalized=false) split first.
	t.added.split(text, t.added.raw, func(seg string, start int, id int32) bool {
		if id >= 0 {
			ids = append(ids, id)
			return true
		}
		// Offsets only matter for whether a piece starts the input
		// (Metaspace prepend_scheme "first"): track the zero-offset prefix.
		z := 0
		if start == 0 {
			z = firstRuneLen(seg)
		}
		s := seg
		if t.norm != nil {
			s, z = t.norm.normalize(s, z)
		}
		// 2. Added tokens that match normalized text split next.
		t.added.split(s, t.added.normalized, func(seg2 string, start2 int, id2 int32) bool {
			if id2 >= 0 {
				ids = append(ids, id2)
				return true
			}
			p := piece{text: seg2, z: sliceZ(z, start2, start2+len(seg2))}
			ids, err = t.tokenizePiece(sc, p, ids)
			return err == nil
		})
		return err == nil
	})
	if err != nil {
		sc.ids = ids
		return nil, err
	}
	if t.post != nil {
		ids = t.post.process(ids, addSpecial)
	}
	sc.ids = ids
	return ids, nil
}

// tokenizePiece pre-tokenizes one normalized piece and runs the model on
// each resulting word.
func (t *GoTokenizer) tokenizePiece(sc *encodeScratch, p piece, ids []int32) ([]int32, error) {
	if p.text == "" {
		return ids, nil
	}
	pieces := append(sc.pieces[:0], p)
	if t.pretok != nil {
		var err error
		if q, ok := t.pretok.(*sequencePreTok); ok {
			pieces, err = q.preTokenize(sc, pieces)
		} else {
			pieces, err = runPreTok(t.pretok, sc, pieces)
		}
		if err != nil {
			return ids, err
		}
	}
	for _, w := range pieces {
		var err error
		ids, err = t.model.tokenize(&sc.bpe, w, ids)
		if err != nil {
			return ids, err
		}
	}
	sc.pieces = pieces[:0]
	return ids, nil
}

// Decode implements Tokenizer with the semantics of the Rust library:
// unknown ids are skipped, special added tokens are dropped when
// skipSpecialTokens, and the remaining token strings go through the decoder.
func (t *GoTokenizer) Decode(ids []int, skipSpecialTokens bool) (string, error) {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.idToToken(id)
		if !ok {
			continue
		}
		if skipSpecialTokens && t.added.isSpecial(tok) {
			continue
		}
		tokens = append(tokens, tok)
	}
	if t.decoder == nil {
		return joinStrings(tokens, " "), nil
	}
	return decodeWith(t.decoder, tokens), nil
}

// TokenToID implements Tokenizer: added tokens first, then the vocabulary.
func (t *GoTokenizer) TokenToID(token string) (int, bool) {
	if id, ok := t.added.byContent[token]; ok {
		return int(id), true
	}
	if id, ok := t.model.vocab[token]; ok {
		return int(id), true
	}
	return 0, false
}

// IDToToken implements Tokenizer. For an added token marked normalized it
// returns the normalized content, as the Rust library does.
func (t *GoTokenizer) IDToToken(id int) (string, bool) {
	return t.idToToken(id)
}

func (t *GoTokenizer) idToToken(id int) (string, bool) {
	if id < 0 || id > maxTokenID {
		return "", false
	}
	if tok, ok := t.added.tokenString(int32(id)); ok {
		return tok, true
	}
	return t.model.idToToken(int32(id))
}

// VocabSize implements Tokenizer: the model vocabulary plus the added tokens
// that are not already part of it.
func (t *GoTokenizer) VocabSize() int {
	n := len(t.model.vocab)
	for content := range t.added.byContent {
		if _, ok := t.model.vocab[content]; !ok {
			n++
		}
	}
	return n
}

// Close implements Tokenizer; there is nothing to release.
func (t *GoTokenizer) Close() error { return nil }

// Special returns the special-token settings (pad/bos/eos/unk), resolved
// against this tokenizer's vocabulary.
func (t *GoTokenizer) Special() SpecialTokens { return t.special }

// Config returns the parsed tokenizer_config.json, or nil when none was
// loaded.
func (t *GoTokenizer) Config() *TokenizerConfig { return t.cfg }

// AddedTokens lists the added tokens of tokenizer.json in id order.
func (t *GoTokenizer) AddedTokens() []AddedToken {
	out := make([]AddedToken, 0, len(t.added.tokens))
	for _, id := range t.added.order {
		out = append(out, t.added.tokens[id].AddedToken)
	}
	return out
}

func joinStrings(parts []string, sep string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + len(sep)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, sep...)
		}
		b = append(b, p...)
	}
	return string(b)
}

func firstRuneLen(s string) int {
	if s == "" {
		return 0
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// sliceZ is the zero-offset prefix of the slice [a,b) of a piece whose
// zero-offset prefix is z.
func sliceZ(z, a, b int) int {
	if a >= z {
		return 0
	}
	return min(z, b) - a
}
