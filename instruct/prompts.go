package instruct

// Prompt is the instruction pair of one evaluation dataset.
//
// For the 36 MMEB image tasks the data carries its own instruction strings
// (MMEB-eval stores complete rows, MMEB_Test_Instruct stores qry_inst and
// tgt_inst), and loaders must use those: target strings in particular differ
// per dataset by a period or a trailing space. The entries here document
// them and let tools build rows in the same shape (synthetic benchmarks,
// ad-hoc queries). For the V2 video and visual-document tasks the reference
// hard-codes the instructions in its parsers, so these entries are the
// source.
type Prompt struct {
	// Query is the query instruction without placeholder tokens. When the
	// query carries text (a question, a caption) it follows after a space.
	Query string
	// QueryImage says the stored query starts with the image placeholder.
	// WebQA and EDIS set it although their queries have no image: the
	// stored rows carry a stray token.
	QueryImage bool
	// QueryVideo says the query carries a video.
	QueryVideo bool
	// Target is the target-side instruction, "" when targets are bare texts
	// (class names, answers, captions).
	Target string
	// TargetImage and TargetVideo say what the targets carry.
	TargetImage, TargetVideo bool
}

const (
	tgtImage = "Represent the given image."
	tgtWiki  = "Represent the given Wikipedia image with related text information:"
	tgtCrop  = "Represent the given cropped image of the object"
)

// Prompts maps a dataset name (as the registry spells it) to its prompts.
// Image-task strings follow the stored V1 rows; see Prompt for when the
// data's own strings take precedence.
var Prompts = map[string]Prompt{
	// Classification.
	"ImageNet-1K":  {Query: "Represent the given image for classification", QueryImage: true},
	"ImageNet-A":   {Query: "Represent the given image for classification", QueryImage: true},
	"ImageNet-R":   {Query: "Represent the given image for classification", QueryImage: true},
	"VOC2007":      {Query: "Identify the object shown in the image", QueryImage: true},
	"ObjectNet":    {Query: "Identify the object shown in the image", QueryImage: true},
	"SUN397":       {Query: "Identify the scene shown in the image", QueryImage: true},
	"Place365":     {Query: "Identify the scene shown in the image", QueryImage: true},
	"Country211":   {Query: "Identify the country depicted in the image", QueryImage: true},
	"HatefulMemes": {Query: "Represent the given image for binary classification to determine whether it constitutes hateful speech or not", QueryImage: true},
	"N24News":      {Query: "Represent the given news image with the following caption for domain classification:", QueryImage: true},
	// VQA.
	"OK-VQA":          {Query: vqaInst, QueryImage: true},
	"A-OKVQA":         {Query: vqaInst, QueryImage: true},
	"DocVQA":          {Query: vqaInst, QueryImage: true},
	"InfographicsVQA": {Query: vqaInst, QueryImage: true},
	"ChartQA":         {Query: vqaInst, QueryImage: true},
	"Visual7W":        {Query: vqaInst, QueryImage: true},
	"ScienceQA":       {Query: vqaInst, QueryImage: true},
	"VizWiz":          {Query: vqaInst, QueryImage: true},
	"GQA":             {Query: vqaInst, QueryImage: true},
	"TextVQA":         {Query: vqaInst, QueryImage: true},
	// Retrieval.
	"VisDial":        {Query: "Represent the given dialogue about an image, which is used for image retrieval:", Target: tgtImage, TargetImage: true},
	"CIRR":           {Query: "Given an image, find a similar everyday image with the described changes:", QueryImage: true, Target: tgtImage, TargetImage: true},
	"FashionIQ":      {Query: "Find an image to match the fashion image and style note:", QueryImage: true, Target: tgtImage, TargetImage: true},
	"VisualNews_t2i": {Query: "Retrieve an image of this news caption.", Target: tgtImage, TargetImage: true},
	"VisualNews_i2t": {Query: "Find a caption for the news in the given photo.", QueryImage: true},
	"MSCOCO_t2i":     {Query: "Find me an everyday image that matches the given caption:", Target: tgtImage, TargetImage: true},
	"MSCOCO_i2t":     {Query: "Find an image caption describing the given everyday image.", QueryImage: true},
	"NIGHTS":         {Query: "Find a day-to-day image that looks similar to the provided image.", QueryImage: true, Target: tgtImage, TargetImage: true},
	"WebQA":          {Query: "Find a Wikipedia image that answers this question:", QueryImage: true, Target: tgtWiki, TargetImage: true},
	"EDIS":           {Query: "Find a news image that matches the provided caption:", QueryImage: true, Target: "Represent the given image with related text information:", TargetImage: true},
	"OVEN":           {Query: "Retrieve a Wikipedia image-description pair that provides evidence for the question of this image:", QueryImage: true, Target: tgtWiki, TargetImage: true},
	"Wiki-SS-NQ":     {Query: "Find the document image that can answer the given query:", Target: "Represent the given image", TargetImage: true},
	// Visual grounding.
	"MSCOCO":            {Query: "Select the portion of the image that isolates the object labeled as", QueryImage: true, Target: tgtCrop, TargetImage: true},
	"RefCOCO":           {Query: "Select the portion of the image that follows the language expressions.", QueryImage: true, Target: tgtCrop, TargetImage: true},
	"RefCOCO-Matching":  {Query: "Select the portion of the image that follows the language expressions:", QueryImage: true, Target: "Select the portion of the image that follows the language expressions:", TargetImage: true},
	"Visual7W-Pointing": {Query: "Select the portion of the image that answers the question", QueryImage: true, Target: tgtCrop, TargetImage: true},

	// V2 video classification (query: video only; targets: class labels).
	"K700":       {Query: "Recognize the category of the video content.", QueryVideo: true},
	"SmthSmthV2": {Query: "What actions or object interactions are being performed by the person in the video?", QueryVideo: true},
	"HMDB51":     {Query: "What actions or objects interactions are the person in the video doing?", QueryVideo: true},
	"UCF101":     {Query: "What activities or sports are being performed by the person in the video?", QueryVideo: true},
	// The trailing space is in the reference.
	"Breakfast": {Query: "Recognize the breakfast type that the person is cooking in the video. ", QueryVideo: true},
	// V2 video QA (query: video + question + options; targets: options).
	"MVBench":       {Query: videoQAInst, QueryVideo: true},
	"Video-MME":     {Query: videoQAInst, QueryVideo: true},
	"NExTQA":        {Query: videoQAInst, QueryVideo: true},
	"EgoSchema":     {Query: videoQAInst, QueryVideo: true},
	"ActivityNetQA": {Query: videoQAInst, QueryVideo: true},
	// V2 video retrieval (text → video).
	"DiDeMo":   {Query: "Find a video that includes the following described scenes:", Target: tgtVideo, TargetVideo: true},
	"MSR-VTT":  {Query: "Find a video that contains the following visual content:", Target: tgtVideo, TargetVideo: true},
	"MSVD":     {Query: "Find the video snippet that corresponds to the given summary:", Target: tgtVideo, TargetVideo: true},
	"VATEX":    {Query: "Select a video that fits the description provided:", Target: tgtVideo, TargetVideo: true},
	"YouCook2": {Query: "Find a video that demonstrates the following action while making a recipe:", Target: tgtVideo, TargetVideo: true},
	// V2 moment retrieval (video + text → clip). MomentSeeker's query
	// instruction depends on the query's modality; this is its text form.
	"QVHighlight":  {Query: "Find the clip that corresponds to the described scene in the given video:", QueryVideo: true, Target: tgtVideo, TargetVideo: true},
	"Charades-STA": {Query: "Find the clip that corresponds to the described scene in the given video:", QueryVideo: true, Target: tgtVideo, TargetVideo: true},
	"MomentSeeker": {Query: "Find the clip that corresponds to the given text:", Target: "Understand the content of the provided video clip.", TargetVideo: true},
}

const (
	vqaInst     = "Represent the given image with the following question:"
	tgtVideo    = "Understand the content of the provided video."
	videoQAInst = "Given a video and a question, select the most accurate answer from the provided candidates. Return only the exact text of your chosen answer. Question: "
)

// VisDocQuery and VisDocTarget are the instructions of all 24 V2 visual
// document retrieval tasks (ViDoRe v1/v2, VisRAG, ViDoSeek, MMLongBench).
const (
	VisDocQuery  = "Find a document image that matches the given query:"
	VisDocTarget = "Understand the content of the provided document image."
)

// MomentSeeker's query instructions for image and video queries (its text
// query form is in Prompts).
const (
	MomentSeekerImageQuery = "Select the video clip that aligns with the given text and image:"
	MomentSeekerVideoQuery = "Find the clip that corresponds to the given sentence and video segment:"
)
