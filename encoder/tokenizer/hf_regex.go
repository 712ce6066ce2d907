package tokenizer

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// matcher finds the matches of a pattern (a Split/Replace regex or string)
// the way the Rust library's Oniguruma find_iter does: left to right, not
// overlapping, and after an empty match the search moves on one char.
type matcher interface {
	findAll(s string, dst []span) ([]span, error)
}

// totalMatcher marks matchers whose matches cover the whole input (no gaps).
type totalMatcher interface {
	matcher
	total()
}

// The two pre-tokenizer regexes this package implements by hand, both for
// speed and because Go's regexp has no look-ahead. Any other regex goes to
// regexp2.
const (
	// gpt2Pattern is the regex of the ByteLevel pre-tokenizer (use_regex).
	gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// qwen2Pattern is Qwen2's Split regex (one digit per piece); Llama-3
	// uses the same with \p{N}{1,3}.
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// regexMatchTimeout bounds one regexp2 search, so that a pathological
// pattern in a hostile tokenizer.json fails instead of hanging.
const regexMatchTimeout = 5 * time.Second

// compileRegex returns a matcher for an Oniguruma pattern from
// tokenizer.json.
func compileRegex(pattern string) (matcher, error) {
	switch pattern {
	case gpt2Pattern:
		return gpt2Matcher{}, nil
	case qwen2Pattern:
		return qwenMatcher{maxDigits: 1}, nil
	case llama3Pattern:
		return qwenMatcher{maxDigits: 3}, nil
	}
	// Oniguruma as the Rust library configures it lets '.' match '\n' and
	// anchors ^/$ at lines (Ruby syntax); regexp2's .NET syntax otherwise
	// covers what tokenizer files use (\p{..}, (?i:..), look-around).
	re, err := regexp2.Compile(pattern, regexp2.Singleline|regexp2.Multiline)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	re.MatchTimeout = regexMatchTimeout
	return &regexMatcher{re: re}, nil
}

// literalMatcher finds a fixed string (the "String" patterns).
type literalMatcher struct{ lit string }

func (m literalMatcher) findAll(s string, dst []span) ([]span, error) {
	if m.lit == "" {
		// An empty pattern matches between every two chars.
		for i := range s {
			dst = append(dst, span{i, i, true})
		}
		return append(dst, span{len(s), len(s), true}), nil
	}
	pos := 0
	for {
		i := strings.Index(s[pos:], m.lit)
		if i < 0 {
			return dst, nil
		}
		dst = append(dst, span{pos + i, pos + i + len(m.lit), true})
		pos += i + len(m.lit)
	}
}

// regexMatcher runs a general pattern through regexp2.
type regexMatcher struct{ re *regexp2.Regexp }

func (m *regexMatcher) findAll(s string, dst []span) ([]span, error) {
	runes := []rune(s)
	offs := make([]int, 0, len(runes)+1)
	for i := range s {
		offs = append(offs, i)
	}
	offs = append(offs, len(s))
	lastEnd, lastMatchEnd := 0, -1
	for lastEnd <= len(runes) {
		mt, err := m.re.FindRunesMatchStartingAt(runes, lastEnd)
		if err != nil {
			return dst, fmt.Errorf("regex %q: %w", m.re.String(), err)
		}
		if mt == nil {
			break
		}
		st, en := mt.Index, mt.Index+mt.Length
		if st == en && lastMatchEnd == en {
			lastEnd++ // no empty match right after the previous match
			continue
		}
		lastEnd, lastMatchEnd = en, en
		dst = append(dst, span{offs[st], offs[en], true})
	}
	return dst, nil
}

// Character classes of the hand-written matchers, with ASCII fast paths.
// Oniguruma's \s is Unicode White_Space, \p{L} and \p{N} the categories.
func isL(r rune) bool {
	if r < utf8.RuneSelf {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	}
	return unicode.IsLetter(r)
}

func isN(r rune) bool { return isNumeric(r) }

// isOther is [^\s\p{L}\p{N}].
func isOther(r rune) bool { return !isWhiteSpace(r) && !isL(r) && !isN(r) }

func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func scanWhile(s string, i int, pred func(rune) bool) int {
	for i < len(s) {
		r, n := runeAt(s, i)
		if !pred(r) {
			break
		}
		i += n
	}
	return i
}

// contraction returns the length of the contraction suffix ('s, 't, 're,
// 've, 'm, 'll, 'd, in that order) at the start of s, or 0. The Qwen2 and
// Llama-3 patterns wrap them in (?i:...), which Oniguruma applies to ASCII
// letters only here (checked: "'ſ" and "'Ｓ" do not match).
func contraction(s string, fold bool) int {
	for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if len(s) < len(c) {
			continue
		}
		ok := true
		for k := 0; k < len(c); k++ {
			b := s[k]
			if fold && 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if b != c[k] {
				ok = false
				break
			}
		}
		if ok {
			return len(c)
		}
	}
	return 0
}

// whitespaceTail matches the trailing alternatives shared by both patterns,
// \s+(?!\S)|\s+ , at i (s[i] is whitespace): a run of whitespace, less its
// last char when a non-space follows and the run is longer than one char.
func whitespaceTail(s string, i int) int {
	end, lastStart := i, i
	for end < len(s) {
		r, n := runeAt(s, end)
		if !isWhiteSpace(r) {
			break
		}
		lastStart = end
		end += n
	}
	if end == len(s) || lastStart == i {
		return end
	}
	return lastStart
}

// gpt2Matcher implements gpt2Pattern.
type gpt2Matcher struct{}

func (gpt2Matcher) total() {}

func (gpt2Matcher) findAll(s string, dst []span) ([]span, error) {
	for i := 0; i < len(s); {
		end := gpt2MatchAt(s, i)
		dst = append(dst, span{i, end, true})
		i = end
	}
	return dst, nil
}

func gpt2MatchAt(s string, i int) int {
	r, n := runeAt(s, i)
	if r == '\'' {
		if l := contraction(s[i+1:], false); l > 0 {
			return i + 1 + l
		}
	}
	classes := [...]func(rune) bool{isL, isN, isOther}
	// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': with the optional
	// space first; a space is none of the classes, so without it only a
	// non-space r can match.
	if r == ' ' && i+1 < len(s) {
		r2, n2 := runeAt(s, i+1)
		for _, class := range classes {
			if class(r2) {
				return scanWhile(s, i+1+n2, class)
			}
		}
	}
	for _, class := range classes {
		if class(r) {
			return scanWhile(s, i+n, class)
		}
	}
	return whitespaceTail(s, i)
}

// qwenMatcher implements qwen2Pattern (maxDigits 1) and llama3Pattern (3).
type qwenMatcher struct{ maxDigits int }

func (qwenMatcher) total() {}

func (m qwenMatcher) findAll(s string, dst []span) ([]span, error) {
	for i := 0; i < len(s); {
		end := m.matchAt(s, i)
		dst = append(dst, span{i, end, true})
		i = end
	}
	return dst, nil
}

func (m qwenMatcher) matchAt(s string, i int) int {
	r, n := runeAt(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		if l := contraction(s[i+1:], true); l > 0 {
			return i + 1 + l
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isL(r) {
		return scanWhile(s, i+n, isL)
	}
	if r != '\r' && r != '\n' && !isN(r) && i+n < len(s) {
		if r2, n2 := runeAt(s, i+n); isL(r2) {
			return scanWhile(s, i+n+n2, isL)
		}
	}
	// \p{N}{1,maxDigits}
	if isN(r) {
		j := i + n
		for c := 1; c < m.maxDigits && j < len(s); c++ {
			r2, n2 := runeAt(s, j)
			if !isN(r2) {
				break
			}
			j += n2
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := i
	if r == ' ' {
		j = i + 1
	}
	if j < len(s) {
		if r2, n2 := runeAt(s, j); isOther(r2) {
			j = scanWhile(s, j+n2, isOther)
			for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
				j++
			}
			return j
		}
	}
	if isWhiteSpace(r) {
		// \s*[\r\n]+ : the whitespace run up to its last CR or LF.
		end, lastNL := i, -1
		for end < len(s) {
			r2, n2 := runeAt(s, end)
			if !isWhiteSpace(r2) {
				break
			}
			if r2 == '\r' || r2 == '\n' {
				lastNL = end
			}
			end += n2
		}
		if lastNL >= 0 {
			return lastNL + 1
		}
		return whitespaceTail(s, i)
	}
	return i + n
}
