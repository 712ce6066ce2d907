package instruct

import (
	"errors"
	"fmt"
	"testing"
)

func TestTokens(t *testing.T) {
	want := map[Backbone][2]string{
		Phi3V:     {"<|image_1|>", ""},
		LlavaNext: {"<image>", "<image>"},
		Qwen2VL:   {"<|image_pad|>", "<|video_pad|>"},
		Qwen25VL:  {"<|image_pad|>", "<|video_pad|>"},
	}
	for b, w := range want {
		img, err := ImageToken(b)
		if err != nil || img != w[0] {
			t.Errorf("ImageToken(%s) = %q, %v; want %q", b, img, err, w[0])
		}
		vid, err := VideoToken(b)
		if w[1] == "" {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("VideoToken(%s) = %q, %v; want ErrUnsupported", b, vid, err)
			}
		} else if err != nil || vid != w[1] {
			t.Errorf("VideoToken(%s) = %q, %v; want %q", b, vid, err, w[1])
		}
	}
	if _, err := ImageToken("internvl"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown backbone: %v", err)
	}
}

// The MMEB-train row of spec §1.2, byte for byte, and its swaps.
func TestV1AndSwap(t *testing.T) {
	row := V1("Represent the given image with the following question:", "what is the date mentioned in this letter?", true)
	const want = "<|image_1|>\nRepresent the given image with the following question: what is the date mentioned in this letter?\n"
	if row != want {
		t.Fatalf("V1 = %q\nwant %q", row, want)
	}
	if got := V1("Represent the given image.", "", true); got != "<|image_1|>\nRepresent the given image.\n" {
		t.Errorf("image target = %q", got)
	}
	if got := V1("Find me an everyday image that matches the given caption:", "A cat.", false); got != "Find me an everyday image that matches the given caption: A cat.\n" {
		t.Errorf("text query = %q", got)
	}
	for b, w := range map[Backbone]string{
		Phi3V:     want,
		Qwen2VL:   "<|image_pad|>\nRepresent the given image with the following question: what is the date mentioned in this letter?\n",
		LlavaNext: "<image>\nRepresent the given image with the following question: what is the date mentioned in this letter?\n",
	} {
		got, err := Swap(row, b)
		if err != nil || got != w {
			t.Errorf("Swap(%s) = %q, %v", b, got, err)
		}
	}
	v := DataVideoToken + " Represent the given video."
	if got, _ := Swap(v, LlavaNext); got != "<image> Represent the given video." {
		t.Errorf("llava video swap = %q", got)
	}
	if got, _ := Swap(v, Qwen2VL); got != "<|video_pad|> Represent the given video." {
		t.Errorf("qwen video swap = %q", got)
	}
	if _, err := Swap(v, Phi3V); !errors.Is(err, ErrUnsupported) {
		t.Errorf("phi video swap: %v", err)
	}
}

func TestProcessInputText(t *testing.T) {
	cases := []struct {
		inst, text   string
		b            Backbone
		video, image bool
		want         string
	}{
		{VisDocQuery, "what is shown?", Qwen2VL, false, false, "Find a document image that matches the given query: what is shown?"},
		{VisDocTarget, "", Qwen2VL, false, true, "<|image_pad|> Understand the content of the provided document image."},
		{"Understand the content of the provided video.", "", LlavaNext, true, false, "<image> Understand the content of the provided video."},
		// Both tokens: the image token is prepended last, so it comes first.
		{"Inst", "t", Qwen2VL, true, true, "<|image_pad|> <|video_pad|> Inst t"},
		{"Inst", "t", GME, false, true, "Inst t"},
		{"Inst", "", LamRA, true, false, "Inst "},
	}
	for _, c := range cases {
		got, err := ProcessInputText(c.inst, c.b, c.text, c.video, c.image)
		if err != nil || got != c.want {
			t.Errorf("ProcessInputText(%q,%s,%q,%v,%v) = %q, %v; want %q", c.inst, c.b, c.text, c.video, c.image, got, err, c.want)
		}
	}
	if _, err := ProcessInputText("x", Phi3V, "", true, false); !errors.Is(err, ErrUnsupported) {
		t.Errorf("phi video: %v", err)
	}
	if _, err := ProcessInputText("x", "e5_v", "", false, false); !errors.Is(err, ErrUnsupported) {
		t.Errorf("e5_v: %v", err)
	}
}

// V2's rewrite must give back the V1 stored bytes for every family.
func TestV2QueryMatchesV1(t *testing.T) {
	cases := []struct {
		f          Family
		dataset    string
		inst, text string
		b          Backbone
		want       string
		image      bool
	}{
		{FamilyCLS, "ImageNet-1K", "<|image_1|>\nRepresent the given image for classification", "", Phi3V,
			"<|image_1|>\nRepresent the given image for classification\n", true},
		{FamilyCLS, "N24News", "<|image_1|>\nRepresent the given news image with the following caption for domain classification:", "Storm hits coast", Qwen2VL,
			"<|image_pad|>\nRepresent the given news image with the following caption for domain classification: Storm hits coast\n", true},
		{FamilyQA, "OK-VQA", "<|image_1|>\nRepresent the given image with the following question:", "What is this?", Phi3V,
			"<|image_1|>\nRepresent the given image with the following question: What is this?\n", true},
		// qa strips the instruction, so stray spaces around it vanish.
		{FamilyQA, "GQA", "<|image_1|> Represent the given image with the following question:  ", "Is it red?", LlavaNext,
			"<image>\nRepresent the given image with the following question: Is it red?\n", true},
		{FamilyI2T, "MSCOCO_i2t", "<|image_1|>\nFind an image caption describing the given everyday image.", "", Phi3V,
			"<|image_1|>\nFind an image caption describing the given everyday image.\n", true},
		{FamilyI2IVG, "MSCOCO", "<|image_1|>\nSelect the portion of the image that isolates the object labeled as", `"dog"`, Phi3V,
			"<|image_1|>\nSelect the portion of the image that isolates the object labeled as \"dog\"\n", true},
		// VisDial: text only, and V2 appends an extra "\n".
		{FamilyT2I, "VisDial", "Represent the given dialogue about an image, which is used for image retrieval:", "Q: is it sunny? A: yes", Phi3V,
			"Represent the given dialogue about an image, which is used for image retrieval: Q: is it sunny? A: yes\n\n", false},
		{FamilyT2I, "MSCOCO_t2i", "Find me an everyday image that matches the given caption:", "A cat.", Qwen2VL,
			"Find me an everyday image that matches the given caption: A cat.\n", false},
		// WebQA/EDIS: text-only queries whose stored instruction carries the
		// image token; V2 swaps it and passes no image, so a bare token stays.
		{FamilyT2I, "WebQA", "<|image_1|>\nFind a Wikipedia image that answers this question:", "Who built it?", Qwen2VL,
			"<|image_pad|>\nFind a Wikipedia image that answers this question: Who built it?\n", false},
		{FamilyT2I, "EDIS", "<|image_1|>\nFind a news image that matches the provided caption:", "Fans cheer.", Phi3V,
			"<|image_1|>\nFind a news image that matches the provided caption: Fans cheer.\n", false},
	}
	for _, c := range cases {
		got, err := V2Query(c.f, c.dataset, c.inst, c.text, c.b)
		if err != nil || got.Text != c.want || got.Image != c.image {
			t.Errorf("%s: V2Query = %q (image %v), %v\nwant %q (image %v)", c.dataset, got.Text, got.Image, err, c.want, c.image)
		}
	}
}

func TestV2Candidates(t *testing.T) {
	// Text targets are kept as stored and named by their text.
	qs, names, err := V2Candidates(FamilyCLS, "", []string{"cat", "dog"}, []string{"", ""}, Qwen2VL)
	if err != nil || len(qs) != 2 || qs[0] != (Query{Text: "cat"}) || names[1] != "dog" {
		t.Fatalf("cls: %v %v %v", qs, names, err)
	}
	// t2i with captions (WebQA).
	qs, names, err = V2Candidates(FamilyT2I, "<|image_1|>\nRepresent the given Wikipedia image with related text information:",
		[]string{"Eiffel Tower. Paris.", "Big Ben."}, []string{"a/1.jpg", "a/2.jpg"}, Qwen2VL)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<|image_pad|>\nRepresent the given Wikipedia image with related text information: Eiffel Tower. Paris.\n"; qs[0].Text != want || !qs[0].Image {
		t.Errorf("webqa target = %q want %q", qs[0].Text, want)
	}
	if names[0] != "a/1.jpg" || names[1] != "a/2.jpg" {
		t.Errorf("t2i names = %v", names)
	}
	// t2i without captions: bare instruction, trailing "\n".
	qs, _, _ = V2Candidates(FamilyT2I, "<|image_1|>\nRepresent the given image.", []string{"", ""}, []string{"x.jpg", "y.jpg"}, Phi3V)
	if qs[1].Text != "<|image_1|>\nRepresent the given image.\n" {
		t.Errorf("t2i bare target = %q", qs[1].Text)
	}
	// i2i_vg without captions: no trailing "\n" (a V2 quirk kept as is).
	qs, names, _ = V2Candidates(FamilyI2IVG, "<|image_1|>\nRepresent the given image.", []string{"", ""}, []string{"x.jpg", "y.jpg"}, Phi3V)
	if qs[0].Text != "<|image_1|>\nRepresent the given image." || names[0] != "x.jpg:" {
		t.Errorf("i2i bare target = %q name %q", qs[0].Text, names[0])
	}
	// i2i_vg with captions (RefCOCO-Matching): names are path:caption with quotes stripped.
	qs, names, _ = V2Candidates(FamilyI2IVG, "<|image_1|>\nSelect the portion of the image that follows the language expressions:",
		[]string{`"left dog"`, `"right cat"`}, []string{"c/1.jpg", "c/1.jpg"}, LlavaNext)
	if qs[0].Text != "<image>\nSelect the portion of the image that follows the language expressions: \"left dog\"\n" {
		t.Errorf("matching target = %q", qs[0].Text)
	}
	if names[0] != "c/1.jpg:left dog" || names[1] != "c/1.jpg:right cat" {
		t.Errorf("vg names = %v", names)
	}
	if _, _, err := V2Candidates(FamilyT2I, "", []string{"a"}, []string{"x", "y"}, Phi3V); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestPyStrip(t *testing.T) {
	if got := PyStrip("\x1c\t x \n\x1f"); got != "x" {
		t.Errorf("PyStrip = %q", got)
	}
}

func TestPromptsCoverImageTasks(t *testing.T) {
	for _, name := range []string{"ImageNet-1K", "WebQA", "EDIS", "VisDial", "RefCOCO-Matching", "K700", "MSR-VTT"} {
		if _, ok := Prompts[name]; !ok {
			t.Errorf("no prompt for %s", name)
		}
	}
	if !Prompts["WebQA"].QueryImage || !Prompts["EDIS"].QueryImage {
		t.Error("WebQA/EDIS stray token not recorded")
	}
	// The stored row shape for a V1 image-classification query.
	p := Prompts["VOC2007"]
	if got := V1(p.Query, "", p.QueryImage); got != "<|image_1|>\nIdentify the object shown in the image\n" {
		t.Errorf("VOC2007 row = %q", got)
	}
}

func Example() {
	// A stored MMEB row, rendered for Qwen2-VL.
	row := V1(Prompts["OK-VQA"].Query, "What sport is this?", true)
	qwen, _ := Swap(row, Qwen2VL)
	fmt.Printf("%q\n", qwen)
	// V2's prompt for a visual-document query.
	q, _ := ProcessInputText(VisDocQuery, Qwen2VL, "revenue in 2023", false, false)
	fmt.Printf("%q\n", q)
	// Output:
	// "<|image_pad|>\nRepresent the given image with the following question: What sport is this?\n"
	// "Find a document image that matches the given query: revenue in 2023"
}
