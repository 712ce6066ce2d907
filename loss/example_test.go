package loss_test

import (
	"fmt"
	"log"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/loss"
)

// Two queries, each with its positive target; unit vectors as VLM2Vec's
// L2-normalised embeddings are.
var (
	queries = [][]float32{{1, 0}, {0, 1}}
	targets = [][]float32{{0.8, 0.6}, {0.6, 0.8}}
)

func ExampleCompute() {
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		log.Fatal(err)
	}
	l, err := loss.Compute(backend, queries, targets, loss.Options{Temperature: 0.1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loss %.4f\n", l)

	// Mismatched shapes are errors, not panics.
	_, err = loss.Compute(backend, queries, targets[:1], loss.Options{})
	fmt.Println(err)
	// Output:
	// loss 0.1269
	// loss: 1 targets is not a multiple of 2 queries
}

func ExampleInfoNCE() {
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		log.Fatal(err)
	}
	// The loss is an ordinary graph node: differentiate it with the rest of
	// the model (here, just with respect to the query embeddings).
	exec, err := NewExec(backend, func(q, t *Node) (*Node, *Node) {
		l := loss.InfoNCE(q, t, loss.Options{Temperature: 0.1, Symmetric: true})
		return l, Gradient(l, q)[0]
	})
	if err != nil {
		log.Fatal(err)
	}
	out, err := exec.Exec(queries, targets)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loss %.4f\n", out[0].Value())
	fmt.Printf("dL/dq %.4f\n", out[1].Value())
	// Output:
	// loss 0.1269
	// dL/dq [[-0.1192 0.1192] [0.1192 -0.1192]]
}

func ExampleDistributedInfoNCE() {
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		log.Fatal(err)
	}
	// Two devices with one query each. Device 0's graph sees both devices'
	// embeddings (as an all-gather delivers them), but only its own carry
	// gradients; the loss is scaled by the world size W = 2.
	exec, err := NewExec(backend, func(q0, t0, q1, t1 *Node) *Node {
		return loss.DistributedInfoNCE([]*Node{q0, q1}, []*Node{t0, t1}, nil, 0, loss.Options{Temperature: 0.1})
	})
	if err != nil {
		log.Fatal(err)
	}
	out, err := exec.Exec(queries[:1], targets[:1], queries[1:], targets[1:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("device loss %.4f = W × global loss\n", out[0].Value())
	// Output:
	// device loss 0.2539 = W × global loss
}

func ExampleLabels() {
	// Device 0: 2 queries, 4 targets (k = 2), 3 extra negatives.
	// Device 1: 2 queries, 4 targets.
	labels, err := loss.Labels([]int{2, 2}, []int{4, 4}, []int{3, 0})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(labels)
	// Output:
	// [0 2 7 9]
}

func ExampleOptions_learnableTemperature() {
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		log.Fatal(err)
	}
	// τ lives as log τ in the model's store, so an optimizer updating the
	// store's trainable variables learns it too.
	store := model.NewStore()
	opts := loss.Options{
		Temperature:      0.07, // initial value
		TemperatureScope: store.RootScope().In("loss"),
		MinTemperature:   0.01,
		Mask:             loss.FalseNegativeMask{Mode: loss.MaskMargin, Margin: 0.1},
	}
	res, err := loss.ComputeWithGradients(backend, queries, targets, nil, opts)
	if err != nil {
		log.Fatal(err)
	}
	tau, _ := loss.LearnedTemperature(opts.TemperatureScope)
	fmt.Printf("loss %.4f, τ %.2f, dL/dlog τ %.4f\n", res.Loss, tau, res.GradLogTemperature)
	// Output:
	// loss 0.0558, τ 0.07, dL/dlog τ 0.1552
}
