package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// SpecialTokens are the special-token settings that code around the
// tokenizer needs (padding, sequence ends), resolved to ids. An id is -1
// when the token is unset or unknown to the vocabulary.
type SpecialTokens struct {
	PadToken, BOSToken, EOSToken, UNKToken string
	PadID, BOSID, EOSID, UNKID             int

	// AddBOS and AddEOS repeat tokenizer_config.json's add_bos_token and
	// add_eos_token. They are informational: Encode adds what the
	// tokenizer.json post-processor says, as the tokenizers library does.
	AddBOS, AddEOS bool

	// PaddingSide is "right" (the transformers default) or "left".
	PaddingSide string

	// ModelMaxLength is model_max_length, 0 when absent or a placeholder
	// (transformers writes 1e30 for "no limit").
	ModelMaxLength int
}

// TokenizerConfig holds the parts of tokenizer_config.json this package
// reads. Token fields are nil when absent or null.
type TokenizerConfig struct {
	BOSToken, EOSToken, PadToken, UNKToken *string
	AddBOSToken, AddEOSToken               *bool
	PaddingSide                            string
	ModelMaxLength                         int
	CleanUpTokenizationSpaces              *bool
	TokenizerClass                         string
	AdditionalSpecialTokens                []string
	// AddedTokensDecoder is "added_tokens_decoder" by id. Encoding ignores
	// it (tokenizer.json's added_tokens decide); it is here for callers
	// that need the transformers view.
	AddedTokensDecoder map[int]AddedToken
}

// tokenField accepts a token written as a string, as an AddedToken object
// ({"content": ...}) or as null.
func tokenField(raw json.RawMessage) (*string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj.Content, nil
}

func parseTokenizerConfig(data []byte) (*TokenizerConfig, error) {
	var j struct {
		BOS                     json.RawMessage   `json:"bos_token"`
		EOS                     json.RawMessage   `json:"eos_token"`
		Pad                     json.RawMessage   `json:"pad_token"`
		UNK                     json.RawMessage   `json:"unk_token"`
		AddBOS                  *bool             `json:"add_bos_token"`
		AddEOS                  *bool             `json:"add_eos_token"`
		PaddingSide             *string           `json:"padding_side"`
		ModelMaxLength          *float64          `json:"model_max_length"`
		CleanUp                 *bool             `json:"clean_up_tokenization_spaces"`
		TokenizerClass          *string           `json:"tokenizer_class"`
		AdditionalSpecialTokens []json.RawMessage `json:"additional_special_tokens"`
		AddedTokensDecoder      map[string]struct {
			Content    string `json:"content"`
			SingleWord bool   `json:"single_word"`
			LStrip     bool   `json:"lstrip"`
			RStrip     bool   `json:"rstrip"`
			Normalized bool   `json:"normalized"`
			Special    bool   `json:"special"`
		} `json:"added_tokens_decoder"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, err
	}
	c := &TokenizerConfig{AddBOSToken: j.AddBOS, AddEOSToken: j.AddEOS, CleanUpTokenizationSpaces: j.CleanUp}
	var err error
	for _, f := range []struct {
		dst **string
		raw json.RawMessage
		key string
	}{{&c.BOSToken, j.BOS, "bos_token"}, {&c.EOSToken, j.EOS, "eos_token"}, {&c.PadToken, j.Pad, "pad_token"}, {&c.UNKToken, j.UNK, "unk_token"}} {
		if *f.dst, err = tokenField(f.raw); err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
	}
	if j.PaddingSide != nil {
		c.PaddingSide = *j.PaddingSide
	}
	if j.ModelMaxLength != nil && *j.ModelMaxLength > 0 && *j.ModelMaxLength < math.MaxInt32 {
		c.ModelMaxLength = int(*j.ModelMaxLength)
	}
	if j.TokenizerClass != nil {
		c.TokenizerClass = *j.TokenizerClass
	}
	for _, raw := range j.AdditionalSpecialTokens {
		s, err := tokenField(raw)
		if err != nil {
			return nil, fmt.Errorf("additional_special_tokens: %w", err)
		}
		if s != nil {
			c.AdditionalSpecialTokens = append(c.AdditionalSpecialTokens, *s)
		}
	}
	if len(j.AddedTokensDecoder) > 0 {
		c.AddedTokensDecoder = make(map[int]AddedToken, len(j.AddedTokensDecoder))
		for k, v := range j.AddedTokensDecoder {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("added_tokens_decoder: bad id %q", k)
			}
			c.AddedTokensDecoder[id] = AddedToken{ID: id, Content: v.Content, SingleWord: v.SingleWord,
				LStrip: v.LStrip, RStrip: v.RStrip, Normalized: v.Normalized, Special: v.Special}
		}
	}
	return c, nil
}

// resolveSpecial fills SpecialTokens from the config (if any) and the
// vocabulary. Without a config only the model's unk token is known.
func (t *GoTokenizer) resolveSpecial() SpecialTokens {
	s := SpecialTokens{PadID: -1, BOSID: -1, EOSID: -1, UNKID: -1, PaddingSide: "right"}
	lookup := func(tok *string, name *string, id *int) {
		if tok == nil {
			return
		}
		*name = *tok
		if v, ok := t.TokenToID(*tok); ok {
			*id = v
		}
	}
	if t.model.hasUnk {
		u := t.model.unkToken
		lookup(&u, &s.UNKToken, &s.UNKID)
	}
	c := t.cfg
	if c == nil {
		return s
	}
	lookup(c.PadToken, &s.PadToken, &s.PadID)
	lookup(c.BOSToken, &s.BOSToken, &s.BOSID)
	lookup(c.EOSToken, &s.EOSToken, &s.EOSID)
	lookup(c.UNKToken, &s.UNKToken, &s.UNKID)
	s.AddBOS = c.AddBOSToken != nil && *c.AddBOSToken
	s.AddEOS = c.AddEOSToken != nil && *c.AddEOSToken
	if c.PaddingSide != "" {
		s.PaddingSide = c.PaddingSide
	}
	s.ModelMaxLength = c.ModelMaxLength
	return s
}
