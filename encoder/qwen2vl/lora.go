package qwen2vl

import (
	"fmt"
	"strings"

	"github.com/org/vlm2vec/encoder/layers"
	"github.com/org/vlm2vec/encoder/peft"
)

// LinearModules lists the model's adaptable linear layers (module paths).
func (c *Config) LinearModules() []string {
	return c.weightSet().LinearModules(func(name string) bool { return name == "model.embed_tokens.weight" })
}

// AttachLoRA adds trainable adapter variables to the model for training
// (see layers.AttachAdapter): initialised as VLM2Vec configures PEFT when
// from is nil, from from's values otherwise. Base weights become frozen.
// The model must have been loaded without merging an adapter.
func (m *Model) AttachLoRA(cfg peft.Config, from *peft.Adapter, seed uint64) error {
	return m.Attach(cfg, from, seed, layers.AttachOptions{
		Modules: m.Config.LinearModules(),
		Refuse: func(mod string) error {
			if strings.HasPrefix(mod, visualPrefix) {
				// VLM2Vec's target names never match the vision tower; its
				// layers see [patches, features], not per-example rows.
				return fmt.Errorf("qwen2vl: target_modules %v match vision-tower layer %s; adapters on the vision tower are not supported", cfg.TargetModules, mod)
			}
			return nil
		},
		Canonical: func(mod string) string { return layers.TrimWeight(CanonicalName(mod + ".weight")) },
		Prefix:    "qwen2vl",
	})
}
