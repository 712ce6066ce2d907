package layers

import (
	"reflect"
	"testing"
)

func TestBlockLayout(t *testing.T) {
	// Two images of 3 and 2 patches, then 3 padding patches.
	index, slot := BlockLayout([]int32{0, 0, 0, 1, 1, -1, -1, -1})
	if len(index) != 2 || len(index[0]) != 16 {
		t.Fatalf("layout %d x %d, want 2 x 16", len(index), len(index[0]))
	}
	if !reflect.DeepEqual(index[0][:4], []int32{0, 1, 2, -1}) || !reflect.DeepEqual(index[1][:3], []int32{3, 4, -1}) {
		t.Errorf("index %v", index)
	}
	want := []int32{0, 1, 2, 16, 17, 32, 32, 32}
	if !reflect.DeepEqual(slot, want) {
		t.Errorf("slot %v, want %v", slot, want)
	}
	// Three segments round up to four blocks; a long one sets the length.
	seg := make([]int32, 0, 40)
	for s, n := range []int{5, 33, 2} {
		for k := 0; k < n; k++ {
			seg = append(seg, int32(s))
		}
	}
	index, slot = BlockLayout(seg)
	if len(index) != 4 || len(index[0]) != 64 || slot[39] != 2*64+1 {
		t.Errorf("%d x %d, last slot %d", len(index), len(index[0]), slot[39])
	}
}
