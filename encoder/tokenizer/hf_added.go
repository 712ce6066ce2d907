package tokenizer

import (
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// AddedToken is one entry of tokenizer.json's "added_tokens": a string that
// is cut out of the text before the model sees it and maps to one id.
type AddedToken struct {
	ID      int    // id assigned at load time (see loadAddedTokens)
	Content string // the literal text
	// SingleWord only matches when not surrounded by word characters.
	SingleWord bool
	// LStrip and RStrip make the match swallow whitespace on that side.
	LStrip, RStrip bool
	// Normalized tokens are matched against normalized text, others
	// against the raw input.
	Normalized bool
	// Special tokens are dropped by Decode(..., skipSpecialTokens=true).
	Special bool
}

type addedEntry struct {
	AddedToken
	normContent string // content after the normalizer; "" when unchanged
}

// addedVocab mirrors the Rust AddedVocabulary.
type addedVocab struct {
	tokens     map[int32]*addedEntry
	order      []int32 // ids, sorted
	byContent  map[string]int32
	specialSet map[string]bool
	raw        *acTrie // normalized=false tokens, matched on the input
	normalized *acTrie // normalized=true tokens, matched after normalizing
}

// loadAddedTokens replays AddedVocabulary::add_tokens as the Rust
// deserializer calls it: the "id" fields of the JSON are not used. A token
// already in the model vocabulary keeps that id; every other token gets the
// next id counting from the vocabulary size.
func loadAddedTokens(list []AddedToken, model *bpeModel, norm normalizer) (*addedVocab, error) {
	av := &addedVocab{
		tokens:     map[int32]*addedEntry{},
		byContent:  map[string]int32{},
		specialSet: map[string]bool{},
	}
	nextID := int64(len(model.vocab))
	for _, tok := range list {
		if tok.Content == "" {
			continue
		}
		if id, ok := av.byContent[tok.Content]; ok {
			if e := av.tokens[id]; e != nil && sameAddedFlags(e.AddedToken, tok) {
				continue
			}
		}
		var newID int64
		if id, ok := av.byContent[tok.Content]; ok {
			newID = int64(id)
		} else if id, ok := model.vocab[tok.Content]; ok {
			newID = int64(id)
		} else {
			newID = nextID
			nextID++
		}
		if newID > maxTokenID {
			return nil, fmt.Errorf("added token %q: id %d out of range", tok.Content, newID)
		}
		e := &addedEntry{AddedToken: tok}
		e.ID = int(newID)
		if tok.Normalized && norm != nil {
			if s, _ := norm.normalize(tok.Content, 0); s != tok.Content {
				e.normContent = s
			}
		}
		av.byContent[tok.Content] = int32(newID)
		if tok.Special {
			av.specialSet[tok.Content] = true
		}
		av.tokens[int32(newID)] = e
	}
	for id := range av.tokens {
		av.order = append(av.order, id)
	}
	slices.Sort(av.order)

	var raw, normed []acPattern
	for _, id := range av.order {
		e := av.tokens[id]
		if e.Normalized {
			p := e.Content
			if e.normContent != "" {
				p = e.normContent
			}
			normed = append(normed, acPattern{p, id})
		} else {
			raw = append(raw, acPattern{e.Content, id})
		}
	}
	var err error
	if av.raw, err = newACTrie(raw); err != nil {
		return nil, err
	}
	if av.normalized, err = newACTrie(normed); err != nil {
		return nil, err
	}
	return av, nil
}

func sameAddedFlags(a, b AddedToken) bool {
	return a.Content == b.Content && a.SingleWord == b.SingleWord && a.LStrip == b.LStrip &&
		a.RStrip == b.RStrip && a.Normalized == b.Normalized && a.Special == b.Special
}

// tokenString is the string an added id decodes to (its normalized content
// when it has one, like simple_id_to_token).
func (av *addedVocab) tokenString(id int32) (string, bool) {
	e, ok := av.tokens[id]
	if !ok {
		return "", false
	}
	if e.normContent != "" {
		return e.normContent, true
	}
	return e.Content, true
}

func (av *addedVocab) isSpecial(token string) bool { return av.specialSet[token] }

// split cuts sentence at the matches of trie, calling fn for every piece in
// order: id >= 0 for an added token, -1 for the text in between (start is
// its byte offset in sentence). fn returns false to stop early. It follows
// AddedVocabulary::find_matches, including the handling of single_word,
// lstrip and rstrip.
func (av *addedVocab) split(sentence string, trie *acTrie, fn func(seg string, start int, id int32) bool) {
	if sentence == "" {
		return // Rust yields one empty piece, which is then dropped.
	}
	if trie == nil {
		fn(sentence, 0, -1)
		return
	}
	startOffset := 0
	pos := 0
	for {
		ms, me, id, ok := trie.findLeftmostLongest(sentence, pos)
		if !ok {
			break
		}
		pos = me
		e := av.tokens[id]
		start, stop := ms, me
		if e.SingleWord {
			startSpace := start == 0 || !endsWithWordChar(sentence[:start])
			stopSpace := stop == len(sentence) || !startsWithWordChar(sentence[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if e.LStrip {
			start = max(trailingSpaceStart(sentence[:start]), startOffset)
		}
		if e.RStrip {
			stop += leadingSpaceLen(sentence[stop:])
		}
		if startOffset < start {
			if !fn(sentence[startOffset:start], startOffset, -1) {
				return
			}
		}
		if !fn("", start, id) {
			return
		}
		startOffset = stop
	}
	if startOffset < len(sentence) {
		fn(sentence[startOffset:], startOffset, -1)
	}
}

// isRegexWordChar is Rust regex's Unicode \w: Alphabetic, marks, decimal
// digits, connector punctuation and joiners.
func isRegexWordChar(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) ||
		r == 0x200C || r == 0x200D
}

func endsWithWordChar(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isRegexWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isRegexWordChar(r)
}

// trailingSpaceStart is the start of the whitespace run ending s.
func trailingSpaceStart(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !isWhiteSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// leadingSpaceLen is the byte length of the whitespace run starting s.
func leadingSpaceLen(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWhiteSpace(r) {
			break
		}
		i += n
	}
	return i
}

// isWhiteSpace is the Unicode White_Space property, which is what Rust's
// char::is_whitespace, Rust regex \s and Oniguruma's \s all use.
func isWhiteSpace(r rune) bool {
	switch {
	case r == ' ' || (r >= '\t' && r <= '\r'):
		return true
	case r < 0x85:
		return false
	case r == 0x85 || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) ||
		r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000:
		return true
	}
	return false
}

// acPattern is one string to find, with its token id.
type acPattern struct {
	s  string
	id int32
}

// acTrie finds leftmost-longest matches of a set of strings, the matching
// the Rust library asks of its Aho-Corasick automaton. A plain byte trie
// walked from each candidate start is enough: the sets are small (tens to a
// few thousand tokens) and a first-byte table skips most positions.
type acTrie struct {
	nodes []acNode
	first [256]bool
}

type acNode struct {
	edges []acEdge // sorted by byte
	id    int32    // -1: no pattern ends here
}

type acEdge struct {
	b    byte
	next int32
}

func newACTrie(patterns []acPattern) (*acTrie, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	t := &acTrie{nodes: []acNode{{id: -1}}}
	for _, p := range patterns {
		if p.s == "" {
			continue
		}
		n := int32(0)
		for i := 0; i < len(p.s); i++ {
			n = t.child(n, p.s[i])
		}
		if t.nodes[n].id >= 0 {
			// The Rust automaton builder rejects duplicates, which makes
			// the whole tokenizer fail to load.
			return nil, fmt.Errorf("added tokens: duplicate pattern %q", p.s)
		}
		t.nodes[n].id = p.id
		t.first[p.s[0]] = true
	}
	return t, nil
}

func (t *acTrie) child(n int32, b byte) int32 {
	edges := t.nodes[n].edges
	i, found := slices.BinarySearchFunc(edges, b, func(e acEdge, b byte) int { return int(e.b) - int(b) })
	if found {
		return edges[i].next
	}
	next := int32(len(t.nodes))
	t.nodes = append(t.nodes, acNode{id: -1})
	t.nodes[n].edges = slices.Insert(t.nodes[n].edges, i, acEdge{b, next})
	return next
}

func (t *acTrie) step(n int32, b byte) int32 {
	edges := t.nodes[n].edges
	if len(edges) <= 8 {
		for _, e := range edges {
			if e.b == b {
				return e.next
			}
		}
		return -1
	}
	lo, hi := 0, len(edges)
	for lo < hi {
		m := (lo + hi) / 2
		if edges[m].b < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(edges) && edges[lo].b == b {
		return edges[lo].next
	}
	return -1
}

// findLeftmostLongest returns the leftmost match starting at or after pos,
// the longest among those starting there.
func (t *acTrie) findLeftmostLongest(s string, pos int) (start, end int, id int32, ok bool) {
	for i := pos; i < len(s); i++ {
		if !t.first[s[i]] {
			continue
		}
		n := int32(0)
		bestEnd, bestID := -1, int32(-1)
		for j := i; j < len(s); j++ {
			n = t.step(n, s[j])
			if n < 0 {
				break
			}
			if t.nodes[n].id >= 0 {
				bestEnd, bestID = j+1, t.nodes[n].id
			}
		}
		if bestEnd >= 0 {
			return i, bestEnd, bestID, true
		}
	}
	return 0, 0, 0, false
}
