package family

import (
	"fmt"

	"github.com/org/vlm2vec/encoder/tokenizer"
)

// CheckVocab refuses a tokenizer with more ids than the model's embedding
// table has rows (config.json's vocab_size): some of its tokens would read
// past the table.
func CheckVocab(tok tokenizer.Tokenizer, vocab int, prefix string) error {
	if n := tok.VocabSize(); n > vocab {
		return fmt.Errorf("%s: the tokenizer has %d tokens but config.json's vocab_size is %d: tokenizer.json and config.json are from different models", prefix, n, vocab)
	}
	return nil
}

// CheckIDs refuses token ids outside the embedding table (an added token
// whose id is past vocab_size), naming the first one.
func CheckIDs(ids []int, vocab int, tok tokenizer.Tokenizer, prefix string) error {
	for _, id := range ids {
		if id < 0 || id >= vocab {
			s, _ := tok.IDToToken(id)
			return fmt.Errorf("%s: token %q has id %d, outside config.json's vocab_size %d", prefix, s, id, vocab)
		}
	}
	return nil
}
