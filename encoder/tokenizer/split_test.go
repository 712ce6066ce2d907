package tokenizer

import (
	"reflect"
	"testing"
)

// TestSplitBehaviors checks every split behavior on the example Hugging
// Face documents for it: "the-final--countdown" split on '-'.
func TestSplitBehaviors(t *testing.T) {
	const text = "the-final--countdown"
	spans := charMatches(text, func(r rune) bool { return r == '-' }, nil)
	for behavior, want := range map[splitBehavior][]string{
		behaviorRemoved:            {"the", "final", "countdown"},
		behaviorIsolated:           {"the", "-", "final", "-", "-", "countdown"},
		behaviorMergedWithPrevious: {"the-", "final-", "-", "countdown"},
		behaviorMergedWithNext:     {"the", "-final", "-", "-countdown"},
		behaviorContiguous:         {"the", "-", "final", "--", "countdown"},
	} {
		var got []string
		for _, p := range splitBySpans(piece{text: text}, spans, behavior, nil) {
			got = append(got, p.text)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("behavior %d: %q, want %q", behavior, got, want)
		}
	}
}
