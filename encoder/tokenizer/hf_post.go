package tokenizer

// postProcessor adds special tokens around an encoded sequence. Only ids
// matter here: offsets, type ids and masks are not part of this API.
type postProcessor interface {
	process(ids []int32, addSpecial bool) []int32
}

// templatePost is TemplateProcessing's "single" template: a list of the
// sequence ($A) and special tokens (each one or more ids).
type templatePost struct {
	pieces []templatePiece
}

type templatePiece struct {
	sequence bool
	ids      []int32 // of the special token
}

func (t templatePost) process(ids []int32, addSpecial bool) []int32 {
	out := make([]int32, 0, len(ids)+8)
	for _, p := range t.pieces {
		if p.sequence {
			out = append(out, ids...)
		} else if addSpecial {
			out = append(out, p.ids...)
		}
	}
	return append(ids[:0], out...)
}

// clsSepPost is RobertaProcessing and BertProcessing for one sequence:
// cls, the sequence, sep.
type clsSepPost struct{ cls, sep int32 }

func (p clsSepPost) process(ids []int32, addSpecial bool) []int32 {
	if !addSpecial {
		return ids
	}
	ids = append(ids, 0)
	copy(ids[1:], ids)
	ids[0] = p.cls
	return append(ids, p.sep)
}

// noopPost is the ByteLevel post-processor, which only trims offsets.
type noopPost struct{}

func (noopPost) process(ids []int32, _ bool) []int32 { return ids }

// sequencePost applies processors in order.
type sequencePost []postProcessor

func (q sequencePost) process(ids []int32, addSpecial bool) []int32 {
	for _, p := range q {
		ids = p.process(ids, addSpecial)
	}
	return ids
}
