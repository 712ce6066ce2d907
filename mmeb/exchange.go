package mmeb

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
)

// Embedding elsewhere: a large evaluation can embed its items on a cluster
// (`vlm2vec embed --shard`, the Beam transform) and score here.
// ExportItems writes the items as the JSONL inputs those paths read, named
// by ItemID; ImportEmbeddings puts their output into the Cache under a
// model id, where Evaluate finds them as if it had embedded them itself.

// ItemID names an item in exported inputs: the hex SHA-256 of its key, so
// equal items (the same text and image or frames) have one id.
func ItemID(it Item) string {
	sum := sha256.Sum256([]byte(it.Key()))
	return hex.EncodeToString(sum[:16])
}

// evaluatedItems are the items Evaluate embeds for ds with the task's own
// ranking mode.
func evaluatedItems(ds *Dataset) []Item {
	ranking := ds.Task.Ranking
	if ranking == "" {
		ranking = Local
	}
	return uniqueItems(ds, ranking).items
}

// exportRow is one line of exported inputs, in the fields of the embed
// command's input rows (embedio.Row): the data-format text is the prompt,
// which every family renders as Encoder's MMEB adapter does.
type exportRow struct {
	ID     string   `json:"id"`
	Prompt string   `json:"prompt,omitempty"`
	Image  string   `json:"image,omitempty"`
	Video  []string `json:"video,omitempty"`
}

// ExportItems writes every item the datasets' evaluation would embed (each
// once, across datasets) as JSONL inputs with absolute file paths, and
// returns how many it wrote.
func ExportItems(w io.Writer, datasets []*Dataset) (int, error) {
	bw := bufio.NewWriter(w)
	seen := map[string]bool{}
	n := 0
	for _, ds := range datasets {
		for _, it := range evaluatedItems(ds) {
			id := ItemID(it)
			if seen[id] {
				continue
			}
			seen[id] = true
			row := exportRow{ID: id, Prompt: it.Text}
			// Absolute paths: the embed command reads relative ones from
			// the input file's folder, not from here.
			var err error
			if it.Image != "" {
				if row.Image, err = filepath.Abs(it.Image); err != nil {
					return n, err
				}
			}
			for _, f := range it.Video {
				a, err := filepath.Abs(f)
				if err != nil {
					return n, err
				}
				row.Video = append(row.Video, a)
			}
			line, err := json.Marshal(row)
			if err != nil {
				return n, err
			}
			bw.Write(line)
			bw.WriteByte('\n')
			n++
		}
	}
	return n, bw.Flush()
}

// ImportReport counts what ImportEmbeddings did.
type ImportReport struct {
	// Imported vectors went into the cache.
	Imported int
	// Failed lines carried an error instead of an embedding (the input
	// could not be embedded); their items are embedded again or fail at
	// evaluation.
	Failed int
	// Unknown lines named no item of the datasets (another run's output).
	Unknown int
	// Missing items of the datasets had no line.
	Missing int
}

// ImportEmbeddings reads embed output lines ({"id", "embedding"} or
// {"id", "error"}) for items exported by ExportItems and stores the
// vectors in cache under model, for the datasets' items. It flushes the
// cache before returning. A malformed line is an error naming its number.
func ImportEmbeddings(r io.Reader, cache *Cache, model string, datasets []*Dataset) (ImportReport, error) {
	var rep ImportReport
	if cache == nil || model == "" {
		return rep, fmt.Errorf("mmeb: importing embeddings needs a cache and a model id")
	}
	byID := map[string]Item{}
	for _, ds := range datasets {
		for _, it := range evaluatedItems(ds) {
			byID[ItemID(it)] = it
		}
	}
	done := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var row struct {
			ID        string    `json:"id"`
			Embedding []float32 `json:"embedding"`
			Error     string    `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return rep, fmt.Errorf("mmeb: embeddings line %d: %w", line, err)
		}
		it, ok := byID[row.ID]
		switch {
		case !ok:
			rep.Unknown++
		case row.Error != "" || len(row.Embedding) == 0:
			rep.Failed++
		default:
			cache.Put(model, it, row.Embedding)
			if !done[row.ID] {
				done[row.ID] = true
				rep.Imported++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("mmeb: embeddings: %w", err)
	}
	rep.Missing = len(byID) - len(done)
	return rep, cache.Flush()
}
