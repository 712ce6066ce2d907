//go:build tokenizers_native

package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/daulet/tokenizers"
)

// This file wraps Hugging Face's Rust tokenizers through
// github.com/daulet/tokenizers. It links against libtokenizers.a, which
// scripts/build_libtokenizers.sh builds; see docs/tokenizer-native.md.

func init() {
	implementations["native"] = NewNative
}

// errNativeClosed is returned by Encode and Decode after Close.
var errNativeClosed = errors.New("tokenizer: native: tokenizer is closed")

// nativeTokenizer is the Tokenizer backed by the Rust library.
//
// The library's Tokenizer is safe for concurrent encodes and decodes; mu
// only keeps Close from freeing it under a running call.
type nativeTokenizer struct {
	path string

	mu  sync.RWMutex
	tok *tokenizers.Tokenizer // nil once closed

	// vocabSize is read once: the Rust side rebuilds the whole vocabulary
	// map to count it (get_vocab_size(true)), which is slow for big files.
	vocabSize int

	// The Rust library has no token <-> id lookup through the C interface,
	// so these come from the tokenizer.json itself, resolved as Hugging
	// Face does: added tokens first, then the model's vocabulary.
	addedByToken map[string]int
	addedByID    map[int]string
	vocabByToken map[string]int
	vocabByID    map[int]string

	// nulIDs are ids whose text may contain a NUL byte. The C interface
	// returns strings NUL-terminated and turns a decoded text containing
	// NUL into an empty one; Decode reports that case as an error.
	nulIDs map[int]bool
}

// NewNative loads a Hugging Face tokenizer.json with the Rust tokenizers
// library. Close the result to free its native memory.
func NewNative(path string) (Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: native: %w", err)
	}
	t := &nativeTokenizer{path: path}
	normalizedAdded, err := t.parseVocab(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: native: %s: %w", path, err)
	}
	tok, err := tokenizers.FromFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: native: loading %s: %w", path, err)
	}
	t.tok = tok
	t.vocabSize = int(tok.VocabSize())

	// An added token marked "normalized" is matched, and decoded, in its
	// normalized form, which is also what the Rust library's id_to_token
	// returns. Only the library can run the normalizer: encoding the content
	// alone yields the token with that form as its string.
	for _, id := range normalizedAdded {
		enc := tok.EncodeWithOptions(t.addedByID[id], false, tokenizers.WithReturnTokens())
		if len(enc.IDs) == 1 && int(enc.IDs[0]) == id && len(enc.Tokens) == 1 {
			t.addedByID[id] = enc.Tokens[0]
		}
	}
	return t, nil
}

// nativeTokenizerFile holds the parts of a tokenizer.json that the lookups need.
type nativeTokenizerFile struct {
	AddedTokens []struct {
		Content    string `json:"content"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Model struct {
		Type  string          `json:"type"`
		Vocab json.RawMessage `json:"vocab"`
	} `json:"model"`
}

// parseVocab fills the lookups from the tokenizer.json. It returns the ids of
// the added tokens marked "normalized".
func (t *nativeTokenizer) parseVocab(data []byte) (normalizedAdded []int, err error) {
	var f nativeTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parsing tokenizer.json: %w", err)
	}

	// BPE, WordPiece and WordLevel store {"token": id}; Unigram stores
	// [["token", score], ...] with the index as the id.
	t.vocabByToken = map[string]int{}
	vocab := f.Model.Vocab
	modelSize := 0 // the Rust model's get_vocab_size()
	switch first := nativeFirstNonSpace(vocab); first {
	case '{':
		if err := json.Unmarshal(vocab, &t.vocabByToken); err != nil {
			return nil, fmt.Errorf("parsing model.vocab: %w", err)
		}
		modelSize = len(t.vocabByToken)
	case '[':
		var pieces []json.RawMessage
		if err := json.Unmarshal(vocab, &pieces); err != nil {
			return nil, fmt.Errorf("parsing model.vocab: %w", err)
		}
		t.vocabByID = make(map[int]string, len(pieces))
		for id, p := range pieces {
			var pair []json.RawMessage
			var token string
			if err := json.Unmarshal(p, &pair); err != nil || len(pair) == 0 {
				return nil, fmt.Errorf("parsing model.vocab[%d]: want [token, score]", id)
			}
			if err := json.Unmarshal(pair[0], &token); err != nil {
				return nil, fmt.Errorf("parsing model.vocab[%d]: %w", id, err)
			}
			t.vocabByToken[token] = id // a repeated token keeps its last id, as in the Rust Unigram model
			t.vocabByID[id] = token
		}
		modelSize = len(pieces)
	case 0:
		return nil, fmt.Errorf("model (type %q) has no vocab", f.Model.Type)
	default:
		return nil, fmt.Errorf("model.vocab: unexpected JSON starting with %q", first)
	}
	if t.vocabByID == nil {
		t.vocabByID = make(map[int]string, len(t.vocabByToken))
		for token, id := range t.vocabByToken {
			t.vocabByID[id] = token
		}
	}

	// The Rust library ignores the ids written in added_tokens (it only
	// warns when they differ) and assigns them as it adds each token in
	// order: the id the token already has (added or in the model), else the
	// next free one, counting from the model's vocabulary size.
	t.addedByToken = make(map[string]int, len(f.AddedTokens))
	t.addedByID = make(map[int]string, len(f.AddedTokens))
	nextID := modelSize
	seen := map[int]bool{}
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			continue
		}
		id, ok := t.addedByToken[a.Content]
		if !ok {
			id, ok = t.vocabByToken[a.Content]
		}
		if !ok {
			id = nextID
			nextID++
		}
		t.addedByToken[a.Content] = id
		t.addedByID[id] = a.Content
		if a.Normalized && !seen[id] {
			seen[id] = true
			normalizedAdded = append(normalizedAdded, id)
		}
	}

	t.nulIDs = map[int]bool{}
	mark := func(id int, token string) {
		// "Ā" (U+0100) is byte 0 in byte-level BPE, "<0x00>" in byte fallback.
		if strings.ContainsRune(token, 0) || strings.ContainsRune(token, 'Ā') || token == "<0x00>" {
			t.nulIDs[id] = true
		}
	}
	for id, token := range t.vocabByID {
		mark(id, token)
	}
	for id, token := range t.addedByID {
		mark(id, token)
	}
	return normalizedAdded, nil
}

func nativeFirstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// Encode implements Tokenizer. Text must not contain NUL bytes (the C
// interface passes NUL-terminated strings); invalid UTF-8 is replaced by
// U+FFFD before encoding, as the Rust side does.
func (t *nativeTokenizer) Encode(text string, addSpecialTokens bool) ([]int, error) {
	if i := strings.IndexByte(text, 0); i >= 0 {
		return nil, fmt.Errorf("tokenizer: native: text has a NUL byte at offset %d, which the C interface cannot pass", i)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.tok == nil {
		return nil, errNativeClosed
	}
	ids := t.tok.EncodeWithOptions(text, addSpecialTokens).IDs // ids only: no token strings to copy
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out, nil
}

// Decode implements Tokenizer. Ids unknown to the tokenizer are skipped, as
// in Hugging Face's decode.
func (t *nativeTokenizer) Decode(ids []int, skipSpecialTokens bool) (string, error) {
	u := make([]uint32, len(ids))
	mayHaveNUL := false
	for i, id := range ids {
		if id < 0 || id > math.MaxUint32 {
			return "", fmt.Errorf("tokenizer: native: id %d out of range", id)
		}
		u[i] = uint32(id)
		mayHaveNUL = mayHaveNUL || t.nulIDs[id]
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.tok == nil {
		return "", errNativeClosed
	}
	s := t.tok.Decode(u, skipSpecialTokens)
	if s == "" && mayHaveNUL {
		return "", errors.New("tokenizer: native: the decoded text holds a NUL byte, which the C interface cannot return")
	}
	return s, nil
}

// TokenToID implements Tokenizer.
func (t *nativeTokenizer) TokenToID(token string) (int, bool) {
	if id, ok := t.addedByToken[token]; ok {
		return id, true
	}
	id, ok := t.vocabByToken[token]
	return id, ok
}

// IDToToken implements Tokenizer. For an added token marked "normalized" it
// returns the normalized form, as the Rust library does; TokenToID takes the
// content as written in the file.
func (t *nativeTokenizer) IDToToken(id int) (string, bool) {
	if token, ok := t.addedByID[id]; ok {
		return token, true
	}
	token, ok := t.vocabByID[id]
	return token, ok
}

// VocabSize implements Tokenizer: the number of distinct tokens, added
// tokens included (Hugging Face's get_vocab_size(with_added_tokens=True)),
// as the Rust library counted them when the file was loaded.
func (t *nativeTokenizer) VocabSize() int {
	return t.vocabSize
}

// Close frees the native tokenizer. Later calls of Encode and Decode return
// errNativeClosed; closing twice is a no-op. The lookups and VocabSize keep
// working.
func (t *nativeTokenizer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok == nil {
		return nil
	}
	err := t.tok.Close()
	t.tok = nil
	return err
}

// String names the implementation and its file, for logs.
func (t *nativeTokenizer) String() string {
	return "native tokenizer " + t.path
}
