package mmeb

import (
	_ "embed"
	"encoding/json"
	"sync"
)

// videoLabelsJSON holds the full class lists of the five video
// classification tasks in the reference's order (written by
// scripts/mmeb/extract_video_labels.py).
//
//go:embed labels/video_cls.json
var videoLabelsJSON []byte

var videoLabels = sync.OnceValue(func() map[string][]string {
	var m map[string][]string
	if err := json.Unmarshal(videoLabelsJSON, &m); err != nil {
		panic("mmeb: embedded labels/video_cls.json: " + err.Error()) // a build defect, caught by the tests
	}
	return m
})

// VideoLabels returns the full class-label list of a video classification
// task (700 for K700, 174 for SmthSmthV2, 51 for HMDB51, 101 for UCF101, 10
// for Breakfast), in the reference's order; nil for other tasks. Global
// video classification ranks every video against all of them.
func VideoLabels(task string) []string {
	if t, ok := Lookup(task); ok {
		task = t.Name
	}
	return append([]string(nil), videoLabels()[task]...)
}
