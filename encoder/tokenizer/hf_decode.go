package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// decoder is a Rust Decoder: decode_chain maps token strings to token
// strings, and the final text is their concatenation.
type decoder interface {
	decodeChain(tokens []string) []string
}

func decodeWith(d decoder, tokens []string) string {
	return strings.Join(d.decodeChain(tokens), "")
}

// byteLevelDec turns ByteLevel chars back into bytes. A token with any char
// outside the alphabet (an added token such as "<|im_start|>" with a space,
// say) contributes its UTF-8 bytes as they are. Invalid UTF-8 in the result
// becomes U+FFFD the way Rust's String::from_utf8_lossy does it.
type byteLevelDec struct{}

func (byteLevelDec) decodeChain(tokens []string) []string {
	var b []byte
	for _, t := range tokens {
		mark := len(b)
		ok := true
		for _, r := range t {
			c, in := charBytes[r]
			if !in {
				ok = false
				break
			}
			b = append(b, c)
		}
		if !ok {
			b = append(b[:mark], t...)
		}
	}
	return []string{rustLossyUTF8(b)}
}

// rustLossyUTF8 replaces each maximal invalid subsequence with one U+FFFD
// (Rust's from_utf8_lossy; Go's strings.ToValidUTF8 would merge runs).
func rustLossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			sb.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			sb.Write(b[i : i+size])
			i += size
			continue
		}
		// Length of the valid prefix of a multi-byte sequence (1 to 3).
		n := 1
		cont := func(k int, lo, hi byte) bool { return i+k < len(b) && b[i+k] >= lo && b[i+k] <= hi }
		switch {
		case c >= 0xE0 && c <= 0xEF:
			lo, hi := byte(0x80), byte(0xBF)
			if c == 0xE0 {
				lo = 0xA0
			} else if c == 0xED {
				hi = 0x9F
			}
			if cont(1, lo, hi) {
				n = 2
			}
		case c >= 0xF0 && c <= 0xF4:
			lo, hi := byte(0x80), byte(0xBF)
			if c == 0xF0 {
				lo = 0x90
			} else if c == 0xF4 {
				hi = 0x8F
			}
			if cont(1, lo, hi) {
				n = 2
				if cont(2, 0x80, 0xBF) {
					n = 3
				}
			}
		}
		sb.WriteString("\uFFFD")
		i += n
	}
	return sb.String()
}

// metaspaceDec turns the marker back into spaces; in the first token every
// marker is dropped unless prepend_scheme is "never" (Rust does exactly
// this, not only the leading one).
type metaspaceDec struct {
	replacement rune
	scheme      prependScheme
}

func (m metaspaceDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		if !strings.ContainsRune(t, m.replacement) {
			out[i] = t
			continue
		}
		var sb strings.Builder
		for _, r := range t {
			if r == m.replacement {
				if i == 0 && m.scheme != prependNever {
					continue
				}
				r = ' '
			}
			sb.WriteRune(r)
		}
		out[i] = sb.String()
	}
	return out
}

// replaceDec replaces pattern matches inside each token.
type replaceDec struct {
	pat     matcher
	content string
}

func (d replaceDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		matches, err := d.pat.findAll(t, nil)
		if err != nil || len(matches) == 0 {
			out[i] = t
			continue
		}
		out[i], _ = replaceSpans(t, 0, matches, d.content)
	}
	return out
}

// byteFallbackDec turns runs of "<0xXX>" tokens back into text; a run that
// is not valid UTF-8 becomes one U+FFFD per byte.
type byteFallbackDec struct{}

func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	// u8::from_str_radix: an optional '+' then hex digits.
	h := t[3:5]
	if h[0] == '+' {
		h = h[1:]
	}
	if h == "" {
		return 0, false
	}
	v := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return 0, false
		}
		v = v*16 + d
	}
	return byte(v), true
}

func (byteFallbackDec) decodeChain(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// fuseDec joins all tokens into one.
type fuseDec struct{}

func (fuseDec) decodeChain(tokens []string) []string {
	return []string{strings.Join(tokens, "")}
}

// stripDec removes up to start copies of content from the left of each
// token and up to stop from the right.
type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		chars := []rune(t)
		startCut := 0
		for k := 0; k < d.start && k < len(chars); k++ {
			if chars[k] != d.content {
				break
			}
			startCut = k + 1
		}
		stopCut := len(chars)
		for k := 0; k < d.stop && k < len(chars); k++ {
			idx := len(chars) - k - 1
			if chars[idx] != d.content {
				break
			}
			stopCut = idx
		}
		// Rust would panic when both cuts cross (a token made only of the
		// stripped char); an empty token is the sensible answer.
		if stopCut < startCut {
			stopCut = startCut
		}
		out[i] = string(chars[startCut:stopCut])
	}
	return out
}

// bpeDec is the BPEDecoder: the end-of-word suffix becomes a space, except
// in the last token where it is dropped.
type bpeDec struct{ suffix string }

func (d bpeDec) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		rep := " "
		if i == len(tokens)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}

// sequenceDec chains decoders.
type sequenceDec []decoder

func (q sequenceDec) decodeChain(tokens []string) []string {
	for _, d := range q {
		tokens = d.decodeChain(tokens)
	}
	return tokens
}
