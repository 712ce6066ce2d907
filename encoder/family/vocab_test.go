package family

import (
	"strings"
	"testing"

	"github.com/org/vlm2vec/encoder/tokenizer"
)

func TestCheckVocab(t *testing.T) {
	tok, err := tokenizer.FromFile("../qwen2vl/testdata/tiny-a/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckVocab(tok, tok.VocabSize(), "x"); err != nil {
		t.Error(err)
	}
	if err := CheckVocab(tok, tok.VocabSize()-1, "x"); err == nil || !strings.Contains(err.Error(), "vocab_size") {
		t.Errorf("a vocabulary one row short: %v", err)
	}
	if err := CheckIDs([]int{1, 2, tok.VocabSize()}, tok.VocabSize(), tok, "x"); err == nil {
		t.Error("an id past the vocabulary passed")
	}
}
