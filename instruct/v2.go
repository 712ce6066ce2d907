package instruct

import (
	"fmt"
	"strings"
)

// Family is the V2 parser family of an MMEB image task. The family fixes
// how V2 turns the MMEB_Test_Instruct columns (qry_inst, qry_text, tgt_inst,
// tgt_text, tgt_img_path) back into V1-format strings "to stay consistent
// with v1 eval"; the five families differ in small, score-relevant ways.
type Family string

// The five image-task families of V2.
const (
	FamilyCLS   Family = "image_cls"    // classification: image query, text labels
	FamilyQA    Family = "image_qa"     // VQA: image+question query, text answers
	FamilyI2T   Family = "image_i2t"    // image→text retrieval
	FamilyT2I   Family = "image_t2i"    // text→image(+text) retrieval
	FamilyI2IVG Family = "image_i2i_vg" // image(+text)→image(+text) retrieval and grounding
)

// Query is one rendered query (or candidate): its text and whether an
// image goes with it.
type Query struct {
	Text  string
	Image bool
}

// V2Query renders a query the way V2's image parsers do, for backbone b.
// dataset matters only for VisDial, whose query gets an extra "\n".
//
//   - cls, i2t: the instruction with <|image_1|> removed goes through
//     ProcessInputText with the image token, " \n" is replaced by "\n" and
//     "\n" appended, which reproduces "<tok>\n<inst> <text>\n".
//   - qa, i2i_vg: the same, but the instruction is first stripped and
//     prefixed with "\n".
//   - t2i: no image; <|image_1|> in the instruction is swapped for the
//     backbone token (WebQA/EDIS keep a stray token this way), then
//     " " + text + "\n".
func V2Query(f Family, dataset, inst, text string, b Backbone) (Query, error) {
	switch f {
	case FamilyCLS, FamilyI2T, FamilyQA, FamilyI2IVG:
		in := strings.ReplaceAll(inst, DataImageToken, "")
		if f == FamilyQA || f == FamilyI2IVG {
			in = "\n" + PyStrip(in)
		}
		s, err := ProcessInputText(in, b, text, false, true)
		if err != nil {
			return Query{}, err
		}
		return Query{Text: strings.ReplaceAll(s, " \n", "\n") + "\n", Image: true}, nil
	case FamilyT2I:
		tok, err := ImageToken(b)
		if err != nil {
			return Query{}, err
		}
		s := strings.ReplaceAll(inst, DataImageToken, tok) + " " + text + "\n"
		if dataset == "VisDial" {
			s += "\n"
		}
		return Query{Text: s}, nil
	}
	return Query{}, fmt.Errorf("%w family %q", ErrUnsupported, f)
}

// V2Candidates renders a row's candidates the way V2's image parsers do and
// returns them with their candidate names (the identity V2 de-duplicates
// and scores by). imgPaths are the row's tgt_img_path entries as stored.
//
//   - cls, qa, i2t: the target texts as stored, no image, named by text.
//   - t2i, i2i_vg: image candidates named by image path (i2i_vg: path + ":"
//   - caption with surrounding double quotes stripped). When the first
//     caption is not blank, each candidate is the target instruction (token
//     removed) + " " + caption, rendered with the image token, " \n" → "\n",
//     plus "\n". Otherwise every candidate is the bare instruction rendered
//     the same way; t2i appends "\n" but i2i_vg does not.
func V2Candidates(f Family, inst string, texts, imgPaths []string, b Backbone) ([]Query, []string, error) {
	switch f {
	case FamilyCLS, FamilyQA, FamilyI2T:
		qs := make([]Query, len(texts))
		names := make([]string, len(texts))
		for i, t := range texts {
			qs[i] = Query{Text: t}
			names[i] = t
		}
		return qs, names, nil
	case FamilyT2I, FamilyI2IVG:
	default:
		return nil, nil, fmt.Errorf("%w family %q", ErrUnsupported, f)
	}
	if len(texts) != len(imgPaths) {
		return nil, nil, fmt.Errorf("instruct: %d target texts but %d target images", len(texts), len(imgPaths))
	}
	in := strings.ReplaceAll(inst, DataImageToken, "")
	qs := make([]Query, len(imgPaths))
	names := make([]string, len(imgPaths))
	withCaption := len(texts) > 0 && PyStrip(texts[0]) != ""
	for i := range imgPaths {
		var s string
		var err error
		if withCaption {
			s, err = ProcessInputText(in+" "+texts[i], b, "", false, true)
			s = strings.ReplaceAll(s, " \n", "\n") + "\n"
		} else {
			s, err = ProcessInputText(in, b, "", false, true)
			s = strings.ReplaceAll(s, " \n", "\n")
			if f == FamilyT2I {
				s += "\n"
			}
		}
		if err != nil {
			return nil, nil, err
		}
		qs[i] = Query{Text: s, Image: true}
		if f == FamilyI2IVG {
			names[i] = imgPaths[i] + ":" + strings.Trim(texts[i], `"`)
		} else {
			names[i] = imgPaths[i]
		}
	}
	return qs, names, nil
}
