package mmeb

import (
	"fmt"
	"strings"

	"github.com/org/vlm2vec/instruct"
)

// Modality is the MMEB-V2 modality group of a task.
type Modality string

// The three MMEB-V2 modalities, in the order the reference reports them.
const (
	ModImage  Modality = "image"
	ModVideo  Modality = "video"
	ModVisDoc Modality = "visdoc"
)

// Meta is the meta-task (column group) of a task in the papers' tables.
type Meta string

// Meta-tasks. The image ones are MMEB-V1's four; the others are MMEB-V2's
// video and visual-document groups.
const (
	MetaCLS   Meta = "CLS" // image classification
	MetaVQA   Meta = "VQA" // image question answering
	MetaRET   Meta = "RET" // image retrieval
	MetaVG    Meta = "VG"  // visual grounding
	MetaVCLS  Meta = "V-CLS"
	MetaVQA2  Meta = "V-QA"
	MetaVRET  Meta = "V-RET"
	MetaVMRET Meta = "V-MRET"
	MetaVDRv1 Meta = "VDRv1"
	MetaVDRv2 Meta = "VDRv2"
	MetaVR    Meta = "VR"
	MetaVDOOD Meta = "VD-OOD"
)

// Ranking says which candidates a query is ranked against.
type Ranking string

// Ranking modes, named as in the reference's eval_type.
const (
	// Local ranks each query against its own row's candidate list.
	Local Ranking = "local"
	// Global ranks each query against the whole de-duplicated candidate pool.
	Global Ranking = "global"
)

// Main metrics of the reference report (report_score_v2.py).
const (
	MetricHit1     = "hit@1"
	MetricNDCGLin5 = "ndcg_linear@5"
)

// Task describes one evaluation dataset.
type Task struct {
	Name     string   // dataset name as the reference spells it (config name)
	Modality Modality // V2 modality group
	Meta     Meta     // meta-task
	// OOD marks the 16 MMEB-V1 datasets without a training split (false
	// for IND); for video and visdoc tasks it is the VD-OOD group only.
	OOD bool
	// Query and Target are the modalities of each side ("I", "T", "I+T",
	// "V", "V+T"), as in the papers' Table 1.
	Query, Target string
	// Candidates is the number of candidates per query in MMEB-V1 (0 where
	// the pool is global or varies).
	Candidates int
	Ranking    Ranking
	Metric     string          // main metric: MetricHit1 or MetricNDCGLin5
	Family     instruct.Family // V2 parser family of image tasks
	// InV1 marks the 36 MMEB-V1 tasks.
	InV1 bool
	// Dir is the task's folder in the MMEB-V2 repository's media tree:
	// visdoc-tasks/<Dir> for visual documents, video-tasks/frames/<Dir>
	// for videos (e.g. "video_cls/SSv2", "video_mret/Charades_STA"), as
	// the reference's configs name them.
	Dir string
}

func (t Task) String() string { return t.Name }

var tasks []Task
var taskIndex = map[string]int{}

func init() {
	img := func(name string, meta Meta, ood bool, q, tgt string, n int, fam instruct.Family) {
		tasks = append(tasks, Task{Name: name, Modality: ModImage, Meta: meta, OOD: ood, Query: q, Target: tgt,
			Candidates: n, Ranking: Local, Metric: MetricHit1, Family: fam, InV1: true, Dir: name})
	}
	const k = 1000
	// Classification (10): IND then OOD.
	img("ImageNet-1K", MetaCLS, false, "I", "T", 1000, instruct.FamilyCLS)
	img("N24News", MetaCLS, false, "I+T", "T", 24, instruct.FamilyCLS)
	img("HatefulMemes", MetaCLS, false, "I", "T", 2, instruct.FamilyCLS)
	img("VOC2007", MetaCLS, false, "I", "T", 20, instruct.FamilyCLS)
	img("SUN397", MetaCLS, false, "I", "T", 397, instruct.FamilyCLS)
	img("Place365", MetaCLS, true, "I", "T", 365, instruct.FamilyCLS)
	img("ImageNet-A", MetaCLS, true, "I", "T", 1000, instruct.FamilyCLS)
	img("ImageNet-R", MetaCLS, true, "I", "T", 200, instruct.FamilyCLS)
	img("ObjectNet", MetaCLS, true, "I", "T", 313, instruct.FamilyCLS)
	img("Country211", MetaCLS, true, "I", "T", 211, instruct.FamilyCLS)
	// VQA (10).
	for i, n := range []string{"OK-VQA", "A-OKVQA", "DocVQA", "InfographicsVQA", "ChartQA", "Visual7W", "ScienceQA", "VizWiz", "GQA", "TextVQA"} {
		img(n, MetaVQA, i >= 6, "I+T", "T", k, instruct.FamilyQA)
	}
	// Retrieval (12).
	img("VisDial", MetaRET, false, "T", "I", k, instruct.FamilyT2I)
	img("CIRR", MetaRET, false, "I+T", "I", k, instruct.FamilyI2IVG)
	img("VisualNews_t2i", MetaRET, false, "T", "I", k, instruct.FamilyT2I)
	img("VisualNews_i2t", MetaRET, false, "I", "T", k, instruct.FamilyI2T)
	img("MSCOCO_t2i", MetaRET, false, "T", "I", k, instruct.FamilyT2I)
	img("MSCOCO_i2t", MetaRET, false, "I", "T", k, instruct.FamilyI2T)
	img("NIGHTS", MetaRET, false, "I", "I", k, instruct.FamilyI2IVG)
	img("WebQA", MetaRET, false, "T", "I+T", k, instruct.FamilyT2I)
	img("FashionIQ", MetaRET, true, "I+T", "I", k, instruct.FamilyI2IVG)
	img("Wiki-SS-NQ", MetaRET, true, "T", "I", k, instruct.FamilyT2I)
	img("OVEN", MetaRET, true, "I+T", "I+T", k, instruct.FamilyI2IVG)
	img("EDIS", MetaRET, true, "T", "I+T", k, instruct.FamilyT2I)
	// Visual grounding (4).
	img("MSCOCO", MetaVG, false, "I+T", "I", k, instruct.FamilyI2IVG)
	img("RefCOCO", MetaVG, true, "I+T", "I", k, instruct.FamilyI2IVG)
	img("RefCOCO-Matching", MetaVG, true, "I+T", "I+T", k, instruct.FamilyI2IVG)
	img("Visual7W-Pointing", MetaVG, true, "I+T", "I", k, instruct.FamilyI2IVG)

	// Video tasks' Dir is their frame folder under MMEB-V2's
	// video-tasks/frames, as the reference's video.yaml names it.
	vid := func(name string, meta Meta, q, tgt string, r Ranking) {
		group := map[Meta]string{MetaVCLS: "video_cls", MetaVQA2: "video_qa", MetaVRET: "video_ret", MetaVMRET: "video_mret"}[meta]
		dir := map[string]string{"SmthSmthV2": "SSv2", "Charades-STA": "Charades_STA"}[name]
		if dir == "" {
			dir = name
		}
		tasks = append(tasks, Task{Name: name, Modality: ModVideo, Meta: meta, Query: q, Target: tgt, Ranking: r, Metric: MetricHit1,
			Dir: group + "/" + dir})
	}
	vid("K700", MetaVCLS, "V", "T", Global)
	vid("SmthSmthV2", MetaVCLS, "V", "T", Local)
	vid("HMDB51", MetaVCLS, "V", "T", Global)
	vid("UCF101", MetaVCLS, "V", "T", Global)
	vid("Breakfast", MetaVCLS, "V", "T", Global)
	for _, n := range []string{"MVBench", "Video-MME", "NExTQA", "EgoSchema", "ActivityNetQA"} {
		vid(n, MetaVQA2, "V+T", "T", Local)
	}
	for _, n := range []string{"DiDeMo", "MSR-VTT", "MSVD", "VATEX", "YouCook2"} {
		vid(n, MetaVRET, "T", "V", Global)
	}
	vid("QVHighlight", MetaVMRET, "V+T", "V", Local)
	vid("Charades-STA", MetaVMRET, "V+T", "V", Local)
	vid("MomentSeeker", MetaVMRET, "T/I/V+T", "V", Local)

	doc := func(name string, meta Meta) {
		dir := name
		if meta == MetaVDRv2 {
			// The reference stores the ViDoRe-v2 pages without the prefix.
			dir = strings.TrimPrefix(name, "ViDoRe_")
		}
		tasks = append(tasks, Task{Name: name, Modality: ModVisDoc, Meta: meta, OOD: meta == MetaVDOOD, Query: "T", Target: "I",
			Ranking: Global, Metric: MetricNDCGLin5, Dir: dir})
	}
	for _, n := range []string{"arxivqa", "docvqa", "infovqa", "tabfquad", "tatdqa", "shiftproject",
		"syntheticDocQA_artificial_intelligence", "syntheticDocQA_energy", "syntheticDocQA_government_reports", "syntheticDocQA_healthcare_industry"} {
		doc("ViDoRe_"+n, MetaVDRv1)
	}
	for _, n := range []string{"esg_reports_human_labeled_v2", "biomedical_lectures_v2_multilingual", "economics_reports_v2_multilingual", "esg_reports_v2_multilingual"} {
		doc("ViDoRe_"+n, MetaVDRv2)
	}
	for _, n := range []string{"ArxivQA", "ChartQA", "MP-DocVQA", "SlideVQA", "InfoVQA", "PlotQA"} {
		doc("VisRAG_"+n, MetaVR)
	}
	for _, n := range []string{"ViDoSeek-page", "ViDoSeek-doc", "MMLongBench-page", "MMLongBench-doc"} {
		doc(n, MetaVDOOD)
	}
	for i, t := range tasks {
		taskIndex[t.Name] = i
	}
}

// aliases maps names used in reference score files to registry names: the
// two "-page" visdoc sets were re-released as "-fixed", and the video
// classification config is called "Kinetics-700" in the data.
var aliases = map[string]string{
	"ViDoSeek-page-fixed":    "ViDoSeek-page",
	"MMLongBench-page-fixed": "MMLongBench-page",
	"Kinetics-700":           "K700",
}

// Tasks returns all 78 MMEB-V2 tasks (the first 36 are the MMEB-V1 tasks)
// in the reference's report order.
func Tasks() []Task { return append([]Task(nil), tasks...) }

// V1Tasks returns the 36 MMEB-V1 tasks in the paper's order.
func V1Tasks() []Task {
	var out []Task
	for _, t := range tasks {
		if t.InV1 {
			out = append(out, t)
		}
	}
	return out
}

// TasksOf returns the tasks of one modality in report order.
func TasksOf(m Modality) []Task {
	var out []Task
	for _, t := range tasks {
		if t.Modality == m {
			out = append(out, t)
		}
	}
	return out
}

// Lookup finds a task by name (or a reference alias such as
// "MMLongBench-page-fixed").
func Lookup(name string) (Task, bool) {
	if a, ok := aliases[name]; ok {
		name = a
	}
	i, ok := taskIndex[name]
	if !ok {
		return Task{}, false
	}
	return tasks[i], true
}

// SelectTasks resolves a comma-separated list of dataset names, meta-task
// names (e.g. "CLS", "V-RET") or modalities ("image", "video", "visdoc");
// "" or "all" selects every task of the given set.
func SelectTasks(from []Task, spec string) ([]Task, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "all" {
		return from, nil
	}
	seen := map[string]bool{}
	var out []Task
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		matched := false
		for _, t := range from {
			if t.Name == part || string(t.Meta) == part || string(t.Modality) == part || aliases[part] == t.Name {
				matched = true
				if !seen[t.Name] {
					seen[t.Name] = true
					out = append(out, t)
				}
			}
		}
		if !matched {
			return nil, fmt.Errorf("mmeb: unknown dataset or group %q", part)
		}
	}
	return out, nil
}
