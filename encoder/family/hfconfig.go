package family

import "encoding/json"

// PretrainedConfigFields are config.json keys every Hugging Face config may
// carry that say nothing about the embedding graph: generation, tokenizer
// and bookkeeping settings of PretrainedConfig. Families treat any other key
// they do not model as an error, since it could change the architecture.
var PretrainedConfigFields = map[string]bool{
	"architectures": true, "attention_dropout": true, "bos_token_id": true, "eos_token_id": true,
	"pad_token_id": true, "initializer_range": true, "initializer_factor": true, "use_cache": true,
	"transformers_version": true, "_name_or_path": true, "output_attentions": true,
	"output_hidden_states": true, "return_dict": true, "torchscript": true, "is_encoder_decoder": true,
	"tie_encoder_decoder": true, "_attn_implementation_autoset": true, "attn_implementation": true,
	"dtype": true, "torch_dtype": true, "id2label": true, "label2id": true, "problem_type": true,
	"add_cross_attention": true, "chunk_size_feed_forward": true, "pruned_heads": true,
	"tf_legacy_loss": true, "use_bfloat16": true, "prefix": true, "task_specific_params": true,
	"finetuning_task": true, "tokenizer_class": true, "cross_attention_hidden_size": true,
	"is_decoder": true, "decoder_start_token_id": true, "sep_token_id": true, "model_type": true,
	// Generation defaults older configs keep at the top level.
	"max_length": true, "min_length": true, "do_sample": true, "early_stopping": true, "num_beams": true,
	"num_beam_groups": true, "diversity_penalty": true, "temperature": true, "top_k": true, "top_p": true,
	"typical_p": true, "repetition_penalty": true, "length_penalty": true, "no_repeat_ngram_size": true,
	"encoder_no_repeat_ngram_size": true, "bad_words_ids": true, "num_return_sequences": true,
	"output_scores": true, "return_dict_in_generate": true, "forced_bos_token_id": true,
	"forced_eos_token_id": true, "remove_invalid_values": true, "exponential_decay_length_penalty": true,
	"suppress_tokens": true, "begin_suppress_tokens": true, "dropout": true,
}

// JSONFieldNames lists the JSON keys a struct value encodes to.
func JSONFieldNames(v any) map[string]bool {
	out := map[string]bool{}
	data, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(data, &m)
	for k := range m {
		out[k] = true
	}
	return out
}
