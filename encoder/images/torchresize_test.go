package images

import (
	"fmt"
	"testing"

	"github.com/org/vlm2vec/encoder/safetensors"
)

// TestResizeTorchBicubicAAMatchesTorchvision compares with torchvision's
// resize (antialiased bicubic on uint8 tensors) on noise and smooth images,
// up and down, one axis or both (goldens of
// scripts/goldens/qwen3vl/make_goldens.py). Exact: the result is rounded
// to uint8, so float differences only show at rounding ties; one value in
// the set (a tie in a horizontal-only shrink, see ResizeTorchBicubicAA) is
// off by one, so the test allows one value in 100,000 to be, by one.
func TestResizeTorchBicubicAAMatchesTorchvision(t *testing.T) {
	f, err := safetensors.Open("testdata/torch_resize_goldens.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func(name string) ([]uint8, []int) {
		var out []uint8
		var shape []int
		if err := f.Read(name, func(info safetensors.TensorInfo, raw []byte) error {
			out, shape = append([]uint8(nil), raw...), info.Shape
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out, shape
	}
	total, diff := 0, 0
	for k := 0; ; k++ {
		if _, ok := f.Info(fmt.Sprintf("%d.in", k)); !ok {
			if k == 0 {
				t.Fatal("no goldens")
			}
			break
		}
		in, ishape := read(fmt.Sprintf("%d.in", k))
		want, oshape := read(fmt.Sprintf("%d.out", k))
		h, w, oh, ow := ishape[2], ishape[3], oshape[2], oshape[3]
		for b := 0; b < ishape[0]; b++ {
			src := NewRGB(w, h)
			for c := 0; c < 3; c++ {
				for i := 0; i < h*w; i++ {
					src.Pix[3*i+c] = in[(b*3+c)*h*w+i]
				}
			}
			got, err := ResizeTorchBicubicAA(src, ow, oh)
			if err != nil {
				t.Fatal(err)
			}
			for c := 0; c < 3; c++ {
				for i := 0; i < oh*ow; i++ {
					total++
					if g, e := got.Pix[3*i+c], want[(b*3+c)*oh*ow+i]; g != e {
						if g+1 != e && e+1 != g {
							t.Errorf("case %d image %d channel %d pixel %d: %d, torchvision %d (more than one level)", k, b, c, i, g, e)
						}
						if diff < 5 {
							t.Logf("case %d (%dx%d -> %dx%d) image %d channel %d pixel %d: %d, torchvision %d", k, h, w, oh, ow, b, c, i, g, e)
						}
						diff++
					}
				}
			}
		}
	}
	if diff*100_000 > total {
		t.Errorf("%d of %d values differ", diff, total)
	}
	t.Logf("%d of %d values differ by one", diff, total)
}
