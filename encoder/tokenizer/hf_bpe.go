package tokenizer

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxTokenID bounds ids so that they fit an int32 everywhere.
const maxTokenID = 1<<31 - 1

// bpeModel is the BPE model of tokenizer.json, following
// tokenizers/src/models/bpe (merge_word and Word::merge_all).
type bpeModel struct {
	vocab     map[string]int32
	vocabR    []string // dense id -> token, when ids are dense enough
	vocabRSet []bool
	vocabRMap map[int32]string // otherwise

	// merges maps the pair (left id, right id) to rank<<32 | merged id.
	merges pairTable

	// charID maps a rune below len(charID) to the id of the one-char token,
	// or -1: it spares a map lookup per char in merge_word.
	charID []int32

	unkToken     string
	hasUnk       bool
	unkID        int32 // -1 when unkToken is not in the vocabulary
	prefix       string
	hasPrefix    bool
	suffix       string
	hasSuffix    bool
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool

	byteFallbackID [256]int32 // id of "<0xXX>", -1 if absent

	// Byte-level fast path: the id of each byte's ByteLevel char, usable
	// when all 256 exist and there is no prefix/suffix to add to chars.
	byteCharID  [256]int32
	byteLevelOK bool
	// rawVocab maps the raw bytes of byte-level tokens to ids, for
	// ignore_merges on pieces whose mapping is deferred.
	rawVocab map[string]int32

	cache, mappedCache wordCache
	noCache            bool // benchmarks only: measure merging without the cache
}

// bpeScratch is per-call working memory for merging one word.
type bpeScratch struct {
	syms []bpeSymbol
	heap []bpeMerge
	buf  []byte
}

type bpeSymbol struct {
	id         int32
	prev, next int32
	len        int32 // bytes covered; 0 marks a symbol merged into its left neighbour
}

type bpeMerge struct {
	rank, pos, newID int32
}

func (m *bpeModel) idToToken(id int32) (string, bool) {
	if m.vocabR != nil {
		if int(id) < len(m.vocabR) && m.vocabRSet[id] {
			return m.vocabR[id], true
		}
		return "", false
	}
	s, ok := m.vocabRMap[id]
	return s, ok
}

// finish builds the derived tables once vocab and merges are set.
func (m *bpeModel) finish(merges [][2]string) error {
	maxID := int32(-1)
	for _, id := range m.vocab {
		maxID = max(maxID, id)
	}
	if int(maxID) < 2*len(m.vocab)+1024 {
		m.vocabR = make([]string, int(maxID)+1)
		m.vocabRSet = make([]bool, int(maxID)+1)
		for tok, id := range m.vocab {
			m.vocabR[id], m.vocabRSet[id] = tok, true
		}
	} else {
		m.vocabRMap = make(map[int32]string, len(m.vocab))
		for tok, id := range m.vocab {
			m.vocabRMap[id] = tok
		}
	}
	m.unkID = -1
	if m.hasUnk {
		if id, ok := m.vocab[m.unkToken]; ok {
			m.unkID = id
		}
	}
	m.byteLevelOK = !m.hasPrefix && !m.hasSuffix
	for b := 0; b < 256; b++ {
		m.byteFallbackID[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteFallbackID[b] = id
		}
		m.byteCharID[b] = -1
		if id, ok := m.vocab[string(byteChars[b])]; ok {
			m.byteCharID[b] = id
		} else {
			m.byteLevelOK = false
		}
	}
	if m.ignoreMerges && m.byteLevelOK {
		m.rawVocab = make(map[string]int32)
		for tok, id := range m.vocab {
			if raw, ok := byteLevelUnmap(tok); ok {
				m.rawVocab[raw] = id
			}
		}
	}

	prefixLen := 0
	if m.hasPrefix {
		prefixLen = len(m.prefix)
	}
	m.charID = make([]int32, charTableSize)
	for i := range m.charID {
		m.charID[i] = -1
	}
	for tok, id := range m.vocab {
		if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && n > 0 && r < charTableSize && !(r == utf8.RuneError && n == 1) {
			m.charID[r] = id
		}
	}

	m.merges = newPairTable(len(merges))
	for rank, mg := range merges {
		a, b := mg[0], mg[1]
		aID, ok := m.vocab[a]
		if !ok {
			return fmt.Errorf("BPE merge %d: token %q not in the vocabulary", rank, a)
		}
		bID, ok := m.vocab[b]
		if !ok {
			return fmt.Errorf("BPE merge %d: token %q not in the vocabulary", rank, b)
		}
		if len(b) < prefixLen {
			return fmt.Errorf("BPE merge %d: token %q shorter than the subword prefix", rank, b)
		}
		merged := a + b[prefixLen:]
		newID, ok := m.vocab[merged]
		if !ok {
			return fmt.Errorf("BPE merge %d: merged token %q not in the vocabulary", rank, merged)
		}
		if rank > maxTokenID {
			return fmt.Errorf("BPE: too many merges")
		}
		// A repeated pair keeps its last rank, as when Rust collects the
		// merges into a map.
		m.merges.put(pairKey(aID, bID), uint64(rank)<<32|uint64(uint32(newID)))
	}
	return nil
}

// charTableSize covers the Basic Multilingual Plane.
const charTableSize = 0x10000

// pairTable is an open-addressing hash table from a pair key to a merge,
// faster than a Go map for this hot lookup (one multiply, usually one probe).
type pairTable struct {
	keys  []uint64 // emptyPair marks a free slot
	vals  []uint64
	shift uint
}

const emptyPair = ^uint64(0) // ids are below 2^31, so no real key is all ones

func newPairTable(n int) pairTable {
	size, shift := 16, uint(60)
	for size < 2*n {
		size *= 2
		shift--
	}
	t := pairTable{keys: make([]uint64, size), vals: make([]uint64, size), shift: shift}
	for i := range t.keys {
		t.keys[i] = emptyPair
	}
	return t
}

func (t *pairTable) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> t.shift }

func (t *pairTable) put(k, v uint64) {
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		if t.keys[i] == emptyPair || t.keys[i] == k {
			t.keys[i], t.vals[i] = k, v
			return
		}
	}
}

func (t *pairTable) get(k uint64) (uint64, bool) {
	if len(t.keys) == 0 {
		return 0, false
	}
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return t.vals[i], true
		case emptyPair:
			return 0, false
		}
	}
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpeModel) lookupMerge(a, b int32) (rank, newID int32, ok bool) {
	v, ok := m.merges.get(pairKey(a, b))
	if !ok {
		return 0, 0, false
	}
	return int32(v >> 32), int32(uint32(v)), true
}

// byteLevelUnmap inverts the ByteLevel mapping of a token, if every char
// of it belongs to the ByteLevel alphabet.
func byteLevelUnmap(tok string) (string, bool) {
	b := make([]byte, 0, len(tok))
	for _, r := range tok {
		c, ok := charBytes[r]
		if !ok {
			return "", false
		}
		b = append(b, c)
	}
	return string(b), true
}

// maxCachedWord mirrors the Rust cache's MAX_LENGTH: longer words are not
// cached.
const maxCachedWord = 256

// tokenize appends the ids of one pre-tokenized word.
func (m *bpeModel) tokenize(sc *bpeScratch, w piece, ids []int32) ([]int32, error) {
	if w.text == "" {
		return ids, nil
	}
	if w.mapped && !m.byteLevelOK {
		w = w.materialize()
	}
	if m.ignoreMerges {
		var id int32
		var ok bool
		if w.mapped {
			id, ok = m.rawVocab[w.text]
		} else {
			id, ok = m.vocab[w.text]
		}
		if ok {
			return append(ids, id), nil
		}
	}
	cache := &m.cache
	if w.mapped {
		cache = &m.mappedCache
	}
	if !m.noCache {
		if cached, ok := cache.get(w.text); ok {
			return append(ids, cached...), nil
		}
	}
	start := len(ids)
	var err error
	if w.mapped {
		ids = m.mergeBytes(sc, w.text, ids)
	} else if ids, err = m.mergeWord(sc, w.text, ids); err != nil {
		return ids, err
	}
	if len(w.text) < maxCachedWord && !m.noCache {
		cache.put(w.text, ids[start:])
	}
	return ids, nil
}

// mergeBytes is merge_word for a deferred ByteLevel piece: one symbol per
// raw byte.
func (m *bpeModel) mergeBytes(sc *bpeScratch, raw string, ids []int32) []int32 {
	syms := sc.syms[:0]
	for i := 0; i < len(raw); i++ {
		syms = appendSymbol(syms, m.byteCharID[raw[i]], 1)
	}
	sc.syms = syms
	return m.mergeAll(sc, ids)
}

func appendSymbol(syms []bpeSymbol, id int32, n int) []bpeSymbol {
	k := int32(len(syms))
	prev := int32(-1)
	if k > 0 {
		syms[k-1].next = k
		prev = k - 1
	}
	return append(syms, bpeSymbol{id: id, prev: prev, next: -1, len: int32(n)})
}

// mergeWord is BPE::merge_word: one symbol per char (with the subword
// prefix/suffix), byte fallback, unknown-token handling, then the merges.
func (m *bpeModel) mergeWord(sc *bpeScratch, w string, ids []int32) ([]int32, error) {
	syms := sc.syms[:0]
	unkPending := false
	var unkID, unkLen int32
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		isFirst, isLast := i == 0, i+n == len(w)
		tok := w[i : i+n]
		var key []byte
		affixed := (m.hasPrefix && !isFirst) || (m.hasSuffix && isLast)
		if affixed {
			key = sc.buf[:0]
			if m.hasPrefix && !isFirst {
				key = append(key, m.prefix...)
			}
			key = append(key, tok...)
			if m.hasSuffix && isLast {
				key = append(key, m.suffix...)
			}
			sc.buf = key
		}
		var id int32
		var found bool
		switch {
		case affixed:
			id, found = m.vocab[string(key)]
		case n == 1 || (n < 4 && int(w[i]) < 0xF0):
			// One- to three-byte runes are below 0x10000: use the table.
			r, _ := utf8.DecodeRuneInString(tok)
			id = m.charID[r]
			found = id >= 0
		default:
			id, found = m.vocab[tok]
		}
		if found {
			if unkPending {
				syms = appendSymbol(syms, unkID, int(unkLen))
				unkPending = false
			}
			syms = appendSymbol(syms, id, n)
			i += n
			continue
		}
		if m.byteFallback {
			src := tok
			if affixed {
				src = string(key)
			}
			all := true
			for k := 0; k < len(src); k++ {
				if m.byteFallbackID[src[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				// A pending unknown stays pending here, as in the Rust code.
				for k := 0; k < len(src); k++ {
					syms = appendSymbol(syms, m.byteFallbackID[src[k]], 1)
				}
				i += n
				continue
			}
		}
		if m.hasUnk {
			switch {
			case unkPending && m.fuseUnk:
				unkLen += int32(n)
			case unkPending:
				syms = appendSymbol(syms, unkID, int(unkLen))
				fallthrough
			default:
				if m.unkID < 0 {
					return ids, fmt.Errorf("BPE: unk token %q is not in the vocabulary", m.unkToken)
				}
				unkPending, unkID, unkLen = true, m.unkID, int32(n)
			}
		}
		i += n
	}
	if unkPending {
		syms = appendSymbol(syms, unkID, int(unkLen))
	}
	sc.syms = syms
	return m.mergeAll(sc, ids), nil
}

// mergeAll is Word::merge_all: repeatedly merge the pair of lowest rank
// (leftmost on ties) using a heap with lazy deletion, then append the ids.
func (m *bpeModel) mergeAll(sc *bpeScratch, ids []int32) []int32 {
	syms := sc.syms
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if r, nid, ok := m.lookupMerge(syms[i].id, syms[i+1].id); ok {
			h = heapPush(h, bpeMerge{r, int32(i), nid})
		}
	}
	for len(h) > 0 {
		var top bpeMerge
		top, h = heapPop(h)
		cur := &syms[top.pos]
		if cur.len == 0 || cur.next == -1 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		if _, nid, ok := m.lookupMerge(cur.id, right.id); !ok || nid != top.newID {
			continue // stale entry
		}
		cur.id = top.newID
		cur.len += right.len
		cur.next = right.next
		syms[nextPos].len = 0
		if right.next > -1 && int(right.next) < len(syms) {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if r, nid, ok := m.lookupMerge(syms[cur.prev].id, cur.id); ok {
				h = heapPush(h, bpeMerge{r, cur.prev, nid})
			}
		}
		if cur.next >= 0 && int(cur.next) < len(syms) {
			if r, nid, ok := m.lookupMerge(cur.id, syms[cur.next].id); ok {
				h = heapPush(h, bpeMerge{r, top.pos, nid})
			}
		}
	}
	sc.heap = h
	for _, s := range syms {
		if s.len != 0 {
			ids = append(ids, s.id)
		}
	}
	return ids
}

func mergeLess(a, b bpeMerge) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

func heapPush(h []bpeMerge, x bpeMerge) []bpeMerge {
	h = append(h, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !mergeLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []bpeMerge) (bpeMerge, []bpeMerge) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && mergeLess(h[r], h[l]) {
			c = r
		}
		if !mergeLess(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return top, h
}

// wordCache is a bounded, sharded word -> ids cache safe for concurrent
// use. A full shard is cleared rather than tracked for LRU: cheap, bounded,
// and it adapts when the text changes.
type wordCache struct {
	once   sync.Once
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards   = 16
	cacheCapacity = 4096 // per shard
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func (c *wordCache) shard(key string) *cacheShard {
	c.once.Do(func() { c.seed = maphash.MakeSeed() })
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

func (c *wordCache) get(key string) ([]int32, bool) {
	s := c.shard(key)
	s.mu.RLock()
	v, ok := s.m[key]
	s.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(key string, ids []int32) {
	s := c.shard(key)
	v := append([]int32(nil), ids...)
	s.mu.Lock()
	if s.m == nil || len(s.m) >= cacheCapacity {
		s.m = make(map[string][]int32, 256)
	}
	s.m[strings.Clone(key)] = v
	s.mu.Unlock()
}
