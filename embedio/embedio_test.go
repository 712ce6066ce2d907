package embedio

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/org/vlm2vec/encoder"
)

var tiny = filepath.Join("..", "encoder", "qwen2vl", "testdata", "tiny-b")

// TestHashIsFNV1a64: the assignment hash is FNV-1a 64 (the published test
// vectors), so shards computed by another tool or version agree.
func TestHashIsFNV1a64(t *testing.T) {
	for id, want := range map[string]uint64{"": 0xcbf29ce484222325, "a": 0xaf63dc4c8601ec8c, "foobar": 0x85944171f73967e8} {
		if got := Hash(id); got != want {
			t.Errorf("Hash(%q) = %#x, want %#x", id, got, want)
		}
	}
}

// TestGroupsAndShards: groups hold about GroupSize inputs, every input is
// in exactly one shard, and a group never spans two shards.
func TestGroupsAndShards(t *testing.T) {
	if g := Groups(0, 8); g != 1 {
		t.Errorf("Groups(0) = %d", g)
	}
	if g := Groups(1000, 8); g != 32 {
		t.Errorf("Groups(1000, 8) = %d, want 32", g)
	}
	const n, shards = 5000, 7
	g := Groups(n, 8)
	sizes := make([]int, g)
	perShard := make([]int, shards)
	groupShard := map[int]int{}
	for i := range n {
		id := "doc-" + strings.Repeat("x", i%3) + strconv.Itoa(i)
		gr, sh := Group(id, g), Shard(id, g, shards)
		sizes[gr]++
		perShard[sh]++
		if prev, ok := groupShard[gr]; ok && prev != sh {
			t.Fatalf("group %d in shards %d and %d", gr, prev, sh)
		}
		groupShard[gr] = sh
	}
	for i, c := range perShard {
		if c < n/shards/2 {
			t.Errorf("shard %d holds %d of %d inputs", i, c, n)
		}
	}
	for i, s := range sizes {
		if s == 0 || s > 4*GroupSize(8) {
			t.Errorf("group %d holds %d inputs", i, s)
		}
	}
}

func TestShardPath(t *testing.T) {
	for in, want := range map[string]string{
		"out/vectors.jsonl": "out/vectors-00002-of-00007.jsonl",
		"vectors":           "vectors-00002-of-00007",
	} {
		if got := ShardPath(in, 2, 7); got != want {
			t.Errorf("ShardPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadFile: strict fields, default ids, repeated ids refused, relative
// paths resolved against the file (URIs kept).
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "in.jsonl")
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"id": "a", "image": "img/x.png", "video": ["f1.png", "/abs/f2.png"]}` + "\n\n" + `{"text": "no id"}` + "\n" + `{"id": "u", "image": "gs://bucket/y.png"}` + "\n")
	rows, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Image != filepath.Join(dir, "img/x.png") || rows[0].Video[0] != filepath.Join(dir, "f1.png") ||
		rows[0].Video[1] != "/abs/f2.png" || rows[1].ID != "3" || rows[2].Image != "gs://bucket/y.png" {
		t.Errorf("rows %+v", rows)
	}
	for _, bad := range []string{`{"id": "a"}` + "\n" + `{"id": "a"}`, `{"id": "a", "imgae": "x.png"}`, `{"id": "a"} {"id": "b"}`, `not json`} {
		write(bad)
		if _, err := ReadFile(p); err == nil {
			t.Errorf("%q read without error", bad)
		}
	}
}

// TestEmbedGroupOrderFree: a group's results do not depend on the order
// its rows arrive in (bit for bit), bad rows get their error, and results
// line up with the rows given.
func TestEmbedGroupOrderFree(t *testing.T) {
	enc, err := encoder.Open(context.Background(), tiny, encoder.WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	img, _ := filepath.Abs(filepath.Join("..", "encoder", "qwen2vl", "testdata", "images", "photo_120x90.png"))
	rows := []Row{
		{ID: "t1", Text: "a cat on a mat"},
		{ID: "t2", Text: strings.Repeat("a very long caption ", 30)},
		{ID: "i1", Instruction: "Represent the given image.", Image: img},
		{ID: "bad", Image: "/nonexistent.png"},
		{ID: "t3", Instruction: "Find an image that matches the caption.", Text: "a red bus"},
	}
	a, err := EmbedGroup(context.Background(), enc, rows)
	if err != nil {
		t.Fatal(err)
	}
	rev := make([]Row, len(rows))
	for i := range rows {
		rev[len(rows)-1-i] = rows[i]
	}
	b, err := EmbedGroup(context.Background(), enc, rev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		x, y := a[i], b[len(rows)-1-i]
		if x.ID != rows[i].ID || y.ID != rows[i].ID {
			t.Fatalf("result %d has id %q/%q, want %q", i, x.ID, y.ID, rows[i].ID)
		}
		if (x.Error != "") != (rows[i].ID == "bad") || x.Error != y.Error {
			t.Errorf("%s: errors %q / %q", rows[i].ID, x.Error, y.Error)
		}
		if len(x.Embedding) != len(y.Embedding) {
			t.Fatalf("%s: lengths differ", rows[i].ID)
		}
		for k := range x.Embedding {
			if math.Float32bits(x.Embedding[k]) != math.Float32bits(y.Embedding[k]) {
				t.Fatalf("%s: component %d differs with the rows' order", rows[i].ID, k)
			}
		}
	}
	if _, err := EmbedGroup(context.Background(), enc, []Row{{ID: "x", Text: "a"}, {ID: "x", Text: "b"}}); err == nil {
		t.Error("a repeated id was embedded")
	}
}
