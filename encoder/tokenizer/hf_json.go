package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// UnsupportedError reports a component of tokenizer.json that this
// implementation does not handle, by kind and type name.
type UnsupportedError struct {
	Kind string // "normalizer", "pre_tokenizer", "model", ...
	Type string
}

// Error implements error, naming the component kind and type.
func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported %s type %q in tokenizer.json", e.Kind, e.Type)
}

type tokenizerFile struct {
	Version       *string          `json:"version"`
	Truncation    json.RawMessage  `json:"truncation"`
	Padding       json.RawMessage  `json:"padding"`
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         json.RawMessage  `json:"model"`
}

type addedTokenJSON struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// typeOf reads the "type" tag of a component.
func typeOf(raw json.RawMessage, kind string) (string, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", fmt.Errorf("%s: %w", kind, err)
	}
	if head.Type == nil {
		return "", fmt.Errorf("%s without a \"type\"", kind)
	}
	return *head.Type, nil
}

func parseTokenizerJSON(data []byte) (*GoTokenizer, error) {
	var f tokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if f.Version != nil && *f.Version != "1.0" {
		return nil, fmt.Errorf("unknown tokenizer.json version %q", *f.Version)
	}
	// Both change the ids Encode returns; rather than approximate them,
	// refuse (none of the supported models sets them).
	if !isNull(f.Truncation) {
		return nil, &UnsupportedError{"setting", "truncation"}
	}
	if !isNull(f.Padding) {
		return nil, &UnsupportedError{"setting", "padding"}
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("tokenizer.json has no model")
	}
	t := &GoTokenizer{}
	var err error
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	if !isNull(f.Normalizer) {
		if t.norm, err = parseNormalizer(f.Normalizer); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PreTokenizer) {
		if t.pretok, err = parsePreTokenizer(f.PreTokenizer); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = parsePostProcessor(f.PostProcessor); err != nil {
			return nil, err
		}
	}
	if !isNull(f.Decoder) {
		if t.decoder, err = parseDecoder(f.Decoder); err != nil {
			return nil, err
		}
	}
	list := make([]AddedToken, 0, len(f.AddedTokens))
	for _, a := range f.AddedTokens {
		normalized := !a.Special // AddedToken::from's default
		if a.Normalized != nil {
			normalized = *a.Normalized
		}
		list = append(list, AddedToken{
			ID: int(a.ID), Content: a.Content, SingleWord: a.SingleWord,
			LStrip: a.LStrip, RStrip: a.RStrip, Normalized: normalized, Special: a.Special,
		})
	}
	if t.added, err = loadAddedTokens(list, t.model, t.norm); err != nil {
		return nil, err
	}
	return t, nil
}

// ---- model ----

func parseModel(raw json.RawMessage) (*bpeModel, error) {
	var j struct {
		Type                    *string          `json:"type"`
		Dropout                 *float64         `json:"dropout"`
		UnkToken                *string          `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
		FuseUnk                 *bool            `json:"fuse_unk"`
		ByteFallback            *bool            `json:"byte_fallback"`
		IgnoreMerges            *bool            `json:"ignore_merges"`
		Vocab                   map[string]int64 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if j.Type != nil && *j.Type != "BPE" {
		return nil, &UnsupportedError{"model", *j.Type}
	}
	if j.Vocab == nil || isNull(j.Merges) {
		if j.Type == nil {
			return nil, fmt.Errorf("model: not a BPE model (no vocab/merges) and no \"type\"")
		}
		return nil, fmt.Errorf("model: BPE without vocab/merges")
	}
	if j.Dropout != nil && *j.Dropout != 0 {
		// Dropout makes encoding random; exact parity is meaningless.
		return nil, &UnsupportedError{"BPE setting", fmt.Sprintf("dropout=%v", *j.Dropout)}
	}
	m := &bpeModel{vocab: make(map[string]int32, len(j.Vocab))}
	for tok, id := range j.Vocab {
		if id < 0 || id > maxTokenID {
			return nil, fmt.Errorf("model: token %q has id %d out of range", tok, id)
		}
		m.vocab[tok] = int32(id)
	}
	if j.UnkToken != nil {
		m.unkToken, m.hasUnk = *j.UnkToken, true
	}
	if j.ContinuingSubwordPrefix != nil {
		m.prefix, m.hasPrefix = *j.ContinuingSubwordPrefix, true
	}
	if j.EndOfWordSuffix != nil {
		m.suffix, m.hasSuffix = *j.EndOfWordSuffix, true
	}
	m.fuseUnk = j.FuseUnk != nil && *j.FuseUnk
	m.byteFallback = j.ByteFallback != nil && *j.ByteFallback
	m.ignoreMerges = j.IgnoreMerges != nil && *j.IgnoreMerges

	merges, err := parseMerges(j.Merges)
	if err != nil {
		return nil, err
	}
	if err := m.finish(merges); err != nil {
		return nil, err
	}
	return m, nil
}

// parseMerges accepts both formats: ["a b", ...] and [["a", "b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var legacy []string
	if err := json.Unmarshal(raw, &legacy); err == nil {
		out := make([][2]string, 0, len(legacy))
		for _, line := range legacy {
			if strings.HasPrefix(line, "#version") {
				continue
			}
			a, b, ok := strings.Cut(line, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("model: bad merge %d: %q", len(out)+1, line)
			}
			out = append(out, [2]string{a, b})
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("model: merges: %w", err)
	}
	out := make([][2]string, 0, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("model: merge %d has %d parts, want 2", i, len(p))
		}
		out = append(out, [2]string{p[0], p[1]})
	}
	return out, nil
}

// ---- patterns ----

func parsePattern(raw json.RawMessage, kind string) (matcher, error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%s pattern: %w", kind, err)
	}
	switch {
	case p.String != nil && p.Regex == nil:
		return literalMatcher{*p.String}, nil
	case p.Regex != nil && p.String == nil:
		m, err := compileRegex(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s pattern: %w", kind, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s pattern: want exactly one of String or Regex", kind)
}

func singleRune(s, what string) (rune, error) {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || n != len(s) || (r == utf8.RuneError && n == 1) {
		return 0, fmt.Errorf("%s must be a single character, got %q", what, s)
	}
	return r, nil
}

// ---- normalizers ----

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	typ, err := typeOf(raw, "normalizer")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	case "Prepend":
		var j struct {
			Prepend *string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &j); err != nil || j.Prepend == nil {
			return nil, fmt.Errorf("Prepend normalizer: missing \"prepend\" (%v)", err)
		}
		return prependNorm{*j.Prepend}, nil
	case "Replace":
		var j struct {
			Pattern json.RawMessage `json:"pattern"`
			Content *string         `json:"content"`
		}
		if err := json.Unmarshal(raw, &j); err != nil || j.Content == nil || isNull(j.Pattern) {
			return nil, fmt.Errorf("Replace normalizer: want pattern and content (%v)", err)
		}
		pat, err := parsePattern(j.Pattern, "Replace normalizer")
		if err != nil {
			return nil, err
		}
		return replaceNorm{pat, *j.Content}, nil
	case "Strip":
		var j struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("Strip normalizer: %w", err)
		}
		return stripNorm{j.Left, j.Right}, nil
	case "Sequence":
		var j struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("Sequence normalizer: %w", err)
		}
		var seq sequenceNorm
		for _, r := range j.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			seq = append(seq, n)
		}
		return seq, nil
	}
	return nil, &UnsupportedError{"normalizer", typ}
}

// ---- pre-tokenizers ----

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return behaviorRemoved, nil
	case "Isolated":
		return behaviorIsolated, nil
	case "MergedWithPrevious":
		return behaviorMergedWithPrevious, nil
	case "MergedWithNext":
		return behaviorMergedWithNext, nil
	case "Contiguous":
		return behaviorContiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q", s)
}

type metaspaceJSON struct {
	Replacement    *string `json:"replacement"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	PrependScheme  *string `json:"prepend_scheme"`
	Split          *bool   `json:"split"`
}

// parseMetaspace reads the fields shared by the Metaspace pre-tokenizer
// and decoder, with the Rust deserializer's defaults and legacy rule.
func parseMetaspace(raw json.RawMessage) (metaspacePreTok, error) {
	var j metaspaceJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return metaspacePreTok{}, fmt.Errorf("Metaspace: %w", err)
	}
	if j.Replacement == nil {
		return metaspacePreTok{}, fmt.Errorf("Metaspace: missing replacement")
	}
	r, err := singleRune(*j.Replacement, "Metaspace replacement")
	if err != nil {
		return metaspacePreTok{}, err
	}
	m := metaspacePreTok{replacement: r, rep: string(r), scheme: prependAlways, splitWords: true}
	if j.PrependScheme != nil {
		switch *j.PrependScheme {
		case "always":
			m.scheme = prependAlways
		case "first":
			m.scheme = prependFirst
		case "never":
			m.scheme = prependNever
		default:
			return m, fmt.Errorf("Metaspace: unknown prepend_scheme %q", *j.PrependScheme)
		}
	}
	if j.AddPrefixSpace != nil && !*j.AddPrefixSpace {
		if m.scheme != prependNever {
			return m, fmt.Errorf("Metaspace: add_prefix_space does not match declared prepend_scheme")
		}
	}
	if j.Split != nil {
		m.splitWords = *j.Split
	}
	return m, nil
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	typ, err := typeOf(raw, "pre_tokenizer")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		var j struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("ByteLevel pre_tokenizer: %w", err)
		}
		b := byteLevelPreTok{addPrefixSpace: true, useRegex: true}
		if j.AddPrefixSpace != nil {
			b.addPrefixSpace = *j.AddPrefixSpace
		}
		if j.UseRegex != nil {
			b.useRegex = *j.UseRegex
		}
		return b, nil
	case "Split":
		var j struct {
			Pattern  json.RawMessage `json:"pattern"`
			Behavior string          `json:"behavior"`
			Invert   bool            `json:"invert"`
		}
		if err := json.Unmarshal(raw, &j); err != nil || isNull(j.Pattern) {
			return nil, fmt.Errorf("Split pre_tokenizer: want pattern, behavior, invert (%v)", err)
		}
		pat, err := parsePattern(j.Pattern, "Split pre_tokenizer")
		if err != nil {
			return nil, err
		}
		beh, err := parseBehavior(j.Behavior)
		if err != nil {
			return nil, fmt.Errorf("Split pre_tokenizer: %w", err)
		}
		return splitPreTok{pat: pat, behavior: beh, invert: j.Invert}, nil
	case "Metaspace":
		return parseMetaspace(raw)
	case "Digits":
		var j struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("Digits pre_tokenizer: %w", err)
		}
		return digitsPreTok{j.Individual}, nil
	case "Whitespace":
		return whitespacePreTok{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPreTok{}, nil
	case "Sequence":
		var j struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("Sequence pre_tokenizer: %w", err)
		}
		seq := &sequencePreTok{}
		for _, r := range j.PreTokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, err
			}
			seq.list = append(seq.list, p)
		}
		return seq, nil
	}
	return nil, &UnsupportedError{"pre_tokenizer", typ}
}

// ---- decoders ----

func parseDecoder(raw json.RawMessage) (decoder, error) {
	typ, err := typeOf(raw, "decoder")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Metaspace":
		m, err := parseMetaspace(raw)
		if err != nil {
			return nil, err
		}
		return metaspaceDec{replacement: m.replacement, scheme: m.scheme}, nil
	case "Replace":
		var j struct {
			Pattern json.RawMessage `json:"pattern"`
			Content *string         `json:"content"`
		}
		if err := json.Unmarshal(raw, &j); err != nil || j.Content == nil || isNull(j.Pattern) {
			return nil, fmt.Errorf("Replace decoder: want pattern and content (%v)", err)
		}
		pat, err := parsePattern(j.Pattern, "Replace decoder")
		if err != nil {
			return nil, err
		}
		return replaceDec{pat, *j.Content}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		var j struct {
			Content *string `json:"content"`
			Start   uint32  `json:"start"`
			Stop    uint32  `json:"stop"`
		}
		if err := json.Unmarshal(raw, &j); err != nil || j.Content == nil {
			return nil, fmt.Errorf("Strip decoder: want content, start, stop (%v)", err)
		}
		r, err := singleRune(*j.Content, "Strip decoder content")
		if err != nil {
			return nil, err
		}
		return stripDec{content: r, start: int(j.Start), stop: int(j.Stop)}, nil
	case "BPEDecoder":
		var j struct {
			Suffix *string `json:"suffix"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("BPEDecoder: %w", err)
		}
		d := bpeDec{suffix: "</w>"}
		if j.Suffix != nil {
			d.suffix = *j.Suffix
		}
		return d, nil
	case "Sequence":
		var j struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("Sequence decoder: %w", err)
		}
		var seq sequenceDec
		for _, r := range j.Decoders {
			d, err := parseDecoder(r)
			if err != nil {
				return nil, err
			}
			seq = append(seq, d)
		}
		return seq, nil
	}
	return nil, &UnsupportedError{"decoder", typ}
}

// ---- post-processors ----

func parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	typ, err := typeOf(raw, "post_processor")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		return noopPost{}, nil
	case "TemplateProcessing":
		return parseTemplate(raw)
	case "RobertaProcessing", "BertProcessing":
		var j struct {
			Sep []json.RawMessage `json:"sep"`
			Cls []json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("%s: %w", typ, err)
		}
		sep, err := tokenIDPair(j.Sep)
		if err != nil {
			return nil, fmt.Errorf("%s sep: %w", typ, err)
		}
		cls, err := tokenIDPair(j.Cls)
		if err != nil {
			return nil, fmt.Errorf("%s cls: %w", typ, err)
		}
		return clsSepPost{cls: cls, sep: sep}, nil
	case "Sequence":
		var j struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("Sequence post_processor: %w", err)
		}
		var seq sequencePost
		for _, r := range j.Processors {
			p, err := parsePostProcessor(r)
			if err != nil {
				return nil, err
			}
			seq = append(seq, p)
		}
		return seq, nil
	}
	return nil, &UnsupportedError{"post_processor", typ}
}

// tokenIDPair reads ["token", id].
func tokenIDPair(pair []json.RawMessage) (int32, error) {
	if len(pair) != 2 {
		return 0, fmt.Errorf("want [token, id]")
	}
	var id int64
	if err := json.Unmarshal(pair[1], &id); err != nil {
		return 0, err
	}
	if id < 0 || id > maxTokenID {
		return 0, fmt.Errorf("id %d out of range", id)
	}
	return int32(id), nil
}

func parseTemplate(raw json.RawMessage) (postProcessor, error) {
	var j struct {
		Single []struct {
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs    []int64  `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("TemplateProcessing: %w", err)
	}
	var t templatePost
	for _, p := range j.Single {
		switch {
		case p.Sequence != nil && p.SpecialToken == nil:
			if p.Sequence.ID != "A" {
				// $B in a single-sequence template indexes a missing
				// encoding (Rust panics there).
				return nil, fmt.Errorf("TemplateProcessing: single template uses sequence %q", p.Sequence.ID)
			}
			t.pieces = append(t.pieces, templatePiece{sequence: true})
		case p.SpecialToken != nil && p.Sequence == nil:
			st, ok := j.SpecialTokens[p.SpecialToken.ID]
			if !ok {
				return nil, fmt.Errorf("TemplateProcessing: missing special token %q", p.SpecialToken.ID)
			}
			if len(st.IDs) != len(st.Tokens) {
				return nil, fmt.Errorf("TemplateProcessing: special token %q: ids and tokens differ in length", p.SpecialToken.ID)
			}
			piece := templatePiece{}
			for _, id := range st.IDs {
				if id < 0 || id > maxTokenID {
					return nil, fmt.Errorf("TemplateProcessing: id %d out of range", id)
				}
				piece.ids = append(piece.ids, int32(id))
			}
			t.pieces = append(t.pieces, piece)
		default:
			return nil, fmt.Errorf("TemplateProcessing: bad template piece")
		}
	}
	return t, nil
}
