package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece of text. Besides the text it carries z, the
// length of the prefix whose bytes sit at original offset 0. The Rust
// library tracks full alignments; the only consumer that changes ids is
// Metaspace's prepend_scheme "first" ("does this piece start the input?"),
// and for that z is enough.
type normalizer interface {
	normalize(s string, z int) (string, int)
}

// unicodeNorm is NFC, NFD, NFKC or NFKD.
type unicodeNorm struct{ form norm.Form }

func (n unicodeNorm) normalize(s string, z int) (string, int) {
	if n.form.IsNormalString(s) {
		return s, z
	}
	out := n.form.String(s)
	if z == 0 {
		return out, 0
	}
	// Output derived from the input up to the first normalization boundary
	// at or after z counts as starting at offset 0 (Rust aligns composed
	// and decomposed characters to their first source character).
	b := 0
	for b < z {
		nb := n.form.NextBoundaryInString(s[b:], true)
		if nb <= 0 {
			b = len(s)
			break
		}
		b += nb
	}
	return out, min(len(n.form.String(s[:b])), len(out))
}

// lowercaseNorm is Rust's char::to_lowercase applied char by char.
type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s string, z int) (string, int) {
	var b strings.Builder
	zOut := 0
	for i, r := range s {
		if r == 0x130 { // the one unconditional multi-char lowercase mapping
			b.WriteString("i\u0307")
			if i < z {
				zOut = b.Len()
			}
			continue
		}
		b.WriteRune(unicode.ToLower(r))
		if i < z {
			zOut = b.Len()
		}
	}
	return b.String(), zOut
}

// prependNorm adds a prefix to every non-empty piece.
type prependNorm struct{ prefix string }

func (p prependNorm) normalize(s string, z int) (string, int) {
	if s == "" {
		return s, z
	}
	if z > 0 {
		z += len(p.prefix)
	}
	return p.prefix + s, z
}

// replaceNorm replaces every match of a pattern with content.
type replaceNorm struct {
	pat     matcher
	content string
}

func (r replaceNorm) normalize(s string, z int) (string, int) {
	matches, err := r.pat.findAll(s, nil)
	if err != nil || len(matches) == 0 {
		return s, z
	}
	return replaceSpans(s, z, matches, r.content)
}

// replaceSpans rebuilds s with each match replaced by content, following
// NormalizedString::replace for the zero-offset prefix: inserted content is
// aligned with the last byte of the text it replaces.
func replaceSpans(s string, z int, matches []span, content string) (string, int) {
	b := make([]byte, 0, len(s)+len(matches)*len(content))
	zOut, zeroRun := 0, true
	emit := func(seg string, zeroLen int) {
		if zeroRun {
			k := min(max(zeroLen, 0), len(seg))
			zOut += k
			if k < len(seg) {
				zeroRun = false
			}
		}
		b = append(b, seg...)
	}
	last := 0
	for _, m := range matches {
		emit(s[last:m.start], z-last)
		var zero bool
		if m.end > m.start {
			zero = m.end-1 < z
		} else {
			zero = m.start == 0 || m.start-1 < z
		}
		if zero {
			emit(content, len(content))
		} else {
			emit(content, 0)
		}
		last = m.end
	}
	emit(s[last:], z-last)
	return string(b), zOut
}

// stripNorm removes leading and/or trailing whitespace.
type stripNorm struct{ left, right bool }

func (n stripNorm) normalize(s string, z int) (string, int) {
	lead := 0
	if n.left {
		lead = leadingSpaceLen(s)
	}
	end := len(s)
	if n.right && lead < len(s) {
		end = lead + trailingSpaceStart(s[lead:])
	}
	out := s[lead:end]
	return out, min(max(z-lead, 0), len(out))
}

// byteLevelNorm maps every byte to its ByteLevel alphabet character.
type byteLevelNorm struct{}

func (byteLevelNorm) normalize(s string, z int) (string, int) {
	return byteLevelMap(s, z)
}

// sequenceNorm applies normalizers in order.
type sequenceNorm []normalizer

func (q sequenceNorm) normalize(s string, z int) (string, int) {
	for _, n := range q {
		s, z = n.normalize(s, z)
	}
	return s, z
}

// byteLevelMap applies the GPT-2 byte-to-char table to s.
func byteLevelMap(s string, z int) (string, int) {
	b := make([]byte, 0, len(s)*2)
	zOut := 0
	for i := 0; i < len(s); i++ {
		b = utf8.AppendRune(b, byteChars[s[i]])
		if i < z {
			zOut = len(b)
		}
	}
	return string(b), zOut
}

// byteChars is the ByteLevel alphabet: printable Latin-1 bytes map to
// themselves, the others to U+0100 onwards, so that every byte becomes a
// visible character.
var byteChars, charBytes = func() ([256]rune, map[rune]byte) {
	var table [256]rune
	inverse := make(map[rune]byte, 256)
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			table[b] = rune(b)
		} else {
			table[b] = 256 + n
			n++
		}
		inverse[table[b]] = byte(b)
	}
	return table, inverse
}()
