package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is a span of normalized text on its way to the model.
type piece struct {
	text string
	// z is the length of the prefix of text aligned with offset 0 of the
	// input (see normalizer).
	z int
	// mapped says text still needs the ByteLevel byte-to-char mapping: the
	// ByteLevel pre-tokenizer defers it so that the BPE model can start from
	// raw bytes without building the mapped string.
	mapped bool
}

// materialize applies a deferred ByteLevel mapping.
func (p piece) materialize() piece {
	if !p.mapped {
		return p
	}
	t, z := byteLevelMap(p.text, p.z)
	return piece{text: t, z: z}
}

// span is a byte range of a string; match tells a pattern match from the
// text between matches.
type span struct {
	start, end int
	match      bool
}

// splitBehavior is SplitDelimiterBehavior: what happens to the matches of a
// pattern when splitting.
type splitBehavior int

const (
	behaviorRemoved splitBehavior = iota
	behaviorIsolated
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

// preTokenizer cuts one piece into words, appending them to out.
type preTokenizer interface {
	split(sc *encodeScratch, p piece, out []piece) ([]piece, error)
}

// runPreTok runs pt over every piece; it swaps the scratch buffers so
// that nothing is allocated once they have grown.
func runPreTok(pt preTokenizer, sc *encodeScratch, pieces []piece) ([]piece, error) {
	out := sc.next[:0]
	var err error
	for _, p := range pieces {
		if out, err = pt.split(sc, p, out); err != nil {
			return nil, err
		}
	}
	sc.next = pieces[:0]
	return out, nil
}

// findMatches is the Rust Pattern::find_matches contract: spans covering all
// of s, matches and the gaps between them.
func findMatches(m matcher, s string, dst []span, invert bool) ([]span, error) {
	if s == "" {
		return append(dst, span{0, 0, invert}), nil
	}
	base := len(dst)
	matches, err := m.findAll(s, dst)
	if err != nil {
		return dst, err
	}
	// Interleave the gaps: copy the matches out first.
	found := append([]span(nil), matches[base:]...)
	dst = matches[:base]
	prev := 0
	for _, mt := range found {
		if prev != mt.start {
			dst = append(dst, span{prev, mt.start, invert})
		}
		dst = append(dst, span{mt.start, mt.end, !invert})
		prev = mt.end
	}
	if prev != len(s) {
		dst = append(dst, span{prev, len(s), invert})
	}
	return dst, nil
}

// charMatches is find_matches for a char predicate: every matching char is
// its own match.
func charMatches(s string, pred func(rune) bool, dst []span) []span {
	if s == "" {
		return append(dst, span{0, 0, false})
	}
	last := 0
	for i, r := range s {
		if pred(r) {
			if last < i {
				dst = append(dst, span{last, i, false})
			}
			n := utf8.RuneLen(r)
			if r == utf8.RuneError {
				n = 1
			}
			dst = append(dst, span{i, i + n, true})
			last = i + n
		}
	}
	if last < len(s) {
		dst = append(dst, span{last, len(s), false})
	}
	return dst
}

// splitBySpans applies a split behavior (NormalizedString::split) and
// appends the non-empty results.
func splitBySpans(p piece, spans []span, behavior splitBehavior, out []piece) []piece {
	emit := func(a, b int) {
		if b > a {
			out = append(out, piece{text: p.text[a:b], z: sliceZ(p.z, a, b), mapped: p.mapped})
		}
	}
	switch behavior {
	case behaviorIsolated:
		for _, s := range spans {
			emit(s.start, s.end)
		}
	case behaviorRemoved:
		for _, s := range spans {
			if !s.match {
				emit(s.start, s.end)
			}
		}
	case behaviorContiguous:
		// Runs of equal match flags merge.
		mergeForward(spans, emit, func(prev, cur bool) bool { return cur == prev })
	case behaviorMergedWithPrevious:
		// A match joins the piece before it.
		mergeForward(spans, emit, func(prev, cur bool) bool { return cur && !prev })
	case behaviorMergedWithNext:
		// The same fold, right to left; collect then emit in order.
		type rng struct{ a, b int }
		var acc []rng
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if s.match && !prevMatch && len(acc) > 0 {
				acc[len(acc)-1].a = s.start
			} else {
				acc = append(acc, rng{s.start, s.end})
			}
			prevMatch = s.match
		}
		for i := len(acc) - 1; i >= 0; i-- {
			emit(acc[i].a, acc[i].b)
		}
	}
	return out
}

// mergeForward folds spans left to right: a span extends the current piece
// when join(previous span's match, its match) holds, else starts a new one.
func mergeForward(spans []span, emit func(a, b int), join func(prev, cur bool) bool) {
	curA, curB, have, prevMatch := 0, 0, false, false
	for _, s := range spans {
		if have && join(prevMatch, s.match) {
			curB = s.end
		} else {
			if have {
				emit(curA, curB)
			}
			curA, curB, have = s.start, s.end, true
		}
		prevMatch = s.match
	}
	if have {
		emit(curA, curB)
	}
}

// sequencePreTok runs pre-tokenizers one after the other.
type sequencePreTok struct {
	list []preTokenizer
}

func (q *sequencePreTok) split(sc *encodeScratch, p piece, out []piece) ([]piece, error) {
	// Only reached when nested inside another sequence; the top level calls
	// preTokenize.
	pieces := []piece{p}
	for _, pt := range q.list {
		var next []piece
		for _, x := range pieces {
			var err error
			if next, err = pt.split(sc, x, next); err != nil {
				return out, err
			}
		}
		pieces = next
	}
	return append(out, pieces...), nil
}

// preTokenize is the entry point from the tokenizer: a sequence uses the
// scratch double buffer at each step.
func (q *sequencePreTok) preTokenize(sc *encodeScratch, pieces []piece) ([]piece, error) {
	var err error
	for _, pt := range q.list {
		if pieces, err = runPreTok(pt, sc, pieces); err != nil {
			return nil, err
		}
	}
	return pieces, nil
}

// byteLevelPreTok is the ByteLevel pre-tokenizer: optional prefix space,
// optional GPT-2 regex split, then the byte-to-char mapping (deferred).
type byteLevelPreTok struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b byteLevelPreTok) split(sc *encodeScratch, p piece, out []piece) ([]piece, error) {
	p = p.materialize()
	if b.addPrefixSpace && !strings.HasPrefix(p.text, " ") {
		if p.z > 0 {
			p.z++
		}
		p.text = " " + p.text
	}
	p.mapped = true
	if !b.useRegex {
		if p.text != "" {
			out = append(out, p)
		}
		return out, nil
	}
	spans, _ := gpt2Matcher{}.findAll(p.text, sc.spans[:0])
	sc.spans = spans
	return splitBySpans(p, spans, behaviorIsolated, out), nil
}

// splitPreTok is the Split pre-tokenizer.
type splitPreTok struct {
	pat      matcher
	behavior splitBehavior
	invert   bool
}

func (s splitPreTok) split(sc *encodeScratch, p piece, out []piece) ([]piece, error) {
	p = p.materialize()
	if !s.invert && s.behavior == behaviorIsolated {
		// Every span becomes a piece, so the gaps need no bookkeeping.
		if p.text == "" {
			return out, nil
		}
		if _, total := s.pat.(totalMatcher); total {
			// The pattern matches everywhere: no gaps to interleave.
			spans, err := s.pat.findAll(p.text, sc.spans[:0])
			sc.spans = spans
			if err != nil {
				return out, err
			}
			return splitBySpans(p, spans, behaviorIsolated, out), nil
		}
	}
	spans, err := findMatches(s.pat, p.text, sc.spans[:0], s.invert)
	sc.spans = spans
	if err != nil {
		return out, err
	}
	return splitBySpans(p, spans, s.behavior, out), nil
}

// metaspacePreTok replaces spaces with a marker (normally "▁"), may
// prepend one, and may split before each marker.
type metaspacePreTok struct {
	replacement rune
	rep         string
	scheme      prependScheme
	splitWords  bool
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

func (m metaspacePreTok) split(sc *encodeScratch, p piece, out []piece) ([]piece, error) {
	p = p.materialize()
	startsInput := p.z > 0 // offsets_original().0 == 0 in the Rust code
	text, z := p.text, p.z
	if strings.IndexByte(text, ' ') >= 0 {
		spans := sc.spans[:0]
		for i := 0; i < len(text); i++ {
			if text[i] == ' ' {
				spans = append(spans, span{i, i + 1, true})
			}
		}
		sc.spans = spans
		text, z = replaceSpans(text, z, spans, m.rep)
	}
	prepend := false
	switch m.scheme {
	case prependAlways:
		prepend = !strings.HasPrefix(text, m.rep)
	case prependFirst:
		prepend = !strings.HasPrefix(text, m.rep) && startsInput
	}
	if prepend && text != "" {
		if z > 0 {
			z += len(m.rep)
		}
		text = m.rep + text
	}
	np := piece{text: text, z: z}
	if !m.splitWords {
		if text != "" {
			out = append(out, np)
		}
		return out, nil
	}
	spans := charMatches(text, func(r rune) bool { return r == m.replacement }, sc.spans[:0])
	sc.spans = spans
	return splitBySpans(np, spans, behaviorMergedWithNext, out), nil
}

// digitsPreTok splits out numeric chars (Rust char::is_numeric: Nd, Nl, No).
type digitsPreTok struct{ individual bool }

func (d digitsPreTok) split(sc *encodeScratch, p piece, out []piece) ([]piece, error) {
	p = p.materialize()
	spans := charMatches(p.text, isNumeric, sc.spans[:0])
	sc.spans = spans
	if d.individual {
		return splitBySpans(p, spans, behaviorIsolated, out), nil
	}
	return splitBySpans(p, spans, behaviorContiguous, out), nil
}

// whitespaceSplitPreTok splits on whitespace, dropping it.
type whitespaceSplitPreTok struct{}

func (whitespaceSplitPreTok) split(sc *encodeScratch, p piece, out []piece) ([]piece, error) {
	p = p.materialize()
	spans := charMatches(p.text, isWhiteSpace, sc.spans[:0])
	sc.spans = spans
	return splitBySpans(p, spans, behaviorRemoved, out), nil
}

// whitespacePreTok keeps runs of \w and runs of [^\w\s], dropping
// whitespace (the Rust regex `\w+|[^\w\s]+`).
type whitespacePreTok struct{}

func (whitespacePreTok) split(sc *encodeScratch, p piece, out []piece) ([]piece, error) {
	p = p.materialize()
	s := p.text
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isWhiteSpace(r) {
			i += n
			continue
		}
		word := isRegexWordChar(r)
		j := i + n
		for j < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if isWhiteSpace(r2) || isRegexWordChar(r2) != word {
				break
			}
			j += n2
		}
		out = append(out, piece{text: s[i:j], z: sliceZ(p.z, i, j)})
		i = j
	}
	return out, nil
}

func isNumeric(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}
