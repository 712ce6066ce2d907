package mmeb

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// quirksGolden is what CPython 3.11 and numpy 1.26.4 (scalar sort) did,
// written by scripts/mmeb/quirks_golden.py.
type quirksGolden struct {
	Strings   []string              `json:"strings"`
	Hashes    map[string][]int64    `json:"hashes"`
	LabelSets [][]string            `json:"label_sets"`
	SetOrders map[string][][]string `json:"set_orders"`
	Scores    [][]any               `json:"scores"`
	Argsort   [][]int               `json:"argsort"`
}

func readQuirksGolden(t *testing.T) quirksGolden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "quirks_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g quirksGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPyStrHashMatchesCPython(t *testing.T) {
	g := readQuirksGolden(t)
	for seedStr, hashes := range g.Hashes {
		seed, _ := strconv.ParseUint(seedStr, 10, 32)
		k0, k1 := pyHashKey(uint32(seed))
		for i, s := range g.Strings {
			if got := pyStrHash(s, k0, k1); got != hashes[i] {
				t.Errorf("PYTHONHASHSEED=%s hash(%q) = %d, CPython %d", seedStr, s, got, hashes[i])
			}
		}
	}
}

func TestPySetOrderMatchesCPython(t *testing.T) {
	g := readQuirksGolden(t)
	for seedStr, orders := range g.SetOrders {
		seed, _ := strconv.ParseUint(seedStr, 10, 32)
		for i, keys := range g.LabelSets {
			if got := pySetOrder(keys, uint32(seed)); !slices.Equal(got, orders[i]) {
				t.Errorf("PYTHONHASHSEED=%s list(set(%q)) = %q, CPython %q", seedStr, keys, got, orders[i])
			}
		}
	}
}

func TestNumpyArgsortMatchesNumpy(t *testing.T) {
	g := readQuirksGolden(t)
	for i, raw := range g.Scores {
		s := make([]float32, len(raw))
		for j, x := range raw {
			if f, ok := x.(float64); ok {
				s[j] = float32(f)
			} else {
				s[j] = float32(math.NaN())
			}
		}
		got := numpyArgsortDesc(s)
		if !slices.Equal(got, g.Argsort[i]) {
			t.Errorf("case %d (n=%d): argsort differs from numpy's\n got %v\nwant %v", i, len(s), got, g.Argsort[i])
		}
	}
}
