// Package tokenizer turns text into token ids the way a Hugging Face
// tokenizer.json does, byte for byte.
//
// Two implementations sit behind one interface:
//
//   - the default, pure Go (no cgo, no native library), covering the models
//     this project's backbones use: byte-level BPE with a regex pre-tokenizer
//     (Qwen2, Qwen2-VL) and SentencePiece-style BPE with byte fallback
//     (Llama-2, Mistral, Phi-3);
//   - a native one wrapping Hugging Face's Rust tokenizers through
//     github.com/daulet/tokenizers, compiled only with the build tag
//     "tokenizers_native" (it needs libtokenizers.a; see scripts/build_libtokenizers.sh).
//
// Both are tested against the same golden set produced by the reference
// implementation (scripts/goldens/tokenizer).
package tokenizer

// Tokenizer encodes text to token ids and back.
//
// Implementations are safe for concurrent use by multiple goroutines.
type Tokenizer interface {
	// Encode returns the token ids of text. With addSpecialTokens the
	// tokenizer's post-processor adds its special tokens (BOS for Llama-2,
	// nothing for Qwen2), exactly as tokenizer.encode(text,
	// add_special_tokens=...) does in Hugging Face tokenizers.
	Encode(text string, addSpecialTokens bool) ([]int, error)

	// Decode turns ids back into text, as Hugging Face's decode does.
	// skipSpecialTokens drops added tokens marked special.
	Decode(ids []int, skipSpecialTokens bool) (string, error)

	// TokenToID returns the id of a token string (vocabulary or added token).
	TokenToID(token string) (id int, ok bool)

	// IDToToken returns the token string of an id.
	IDToToken(id int) (token string, ok bool)

	// VocabSize is the number of ids, added tokens included.
	VocabSize() int

	// Close releases native resources; the pure-Go implementation has none.
	Close() error
}

// implementations lists the ways this build can load a tokenizer.json, by
// name: "go" always, "native" when built with the tokenizers_native tag.
// The argument is the path of a tokenizer.json file (a loader may also read
// tokenizer_config.json next to it). The golden tests run every registered
// implementation over the same cases.
var implementations = map[string]func(tokenizerJSON string) (Tokenizer, error){}
