package images

// Normalization is a Hugging Face image processor's rescale and normalise
// steps (do_rescale, rescale_factor, do_normalize, image_mean, image_std).
type Normalization struct {
	Rescale       bool
	RescaleFactor float64
	Normalize     bool
	Mean, Std     [3]float64
	// Fused is the arithmetic of transformers' fast (torch) processors when
	// both steps are on: mean and std are scaled by 1/rescale_factor in
	// float32 and (v - mean') / std' is computed on the raw value, with no
	// separate rescale (differs from the two-step form by an ulp).
	Fused bool
}

// Normalize turns src into three float32 planes (C, H, W) with the
// reference's arithmetic: numpy multiplies the uint8 value by
// rescale_factor in float64 and casts to float32, then computes
// (x - mean) / std in float32 with mean and std cast to float32. A pixel's
// result depends only on its value, so it is a lookup table per channel.
func Normalize(src *RGB, n Normalization) [3][]float32 {
	var lut [3][256]float32
	for ch := 0; ch < 3; ch++ {
		mean, std := float32(n.Mean[ch]), float32(n.Std[ch])
		if n.Fused && n.Rescale && n.Normalize {
			inv := float32(1 / n.RescaleFactor)
			mean, std = mean*inv, std*inv
			for v := 0; v < 256; v++ {
				lut[ch][v] = (float32(v) - mean) / std
			}
			continue
		}
		for v := 0; v < 256; v++ {
			x := float32(v)
			if n.Rescale {
				x = float32(float64(v) * n.RescaleFactor)
			}
			if n.Normalize {
				x = (x - mean) / std
			}
			lut[ch][v] = x
		}
	}
	count := src.Width * src.Height
	var planes [3][]float32
	for ch := 0; ch < 3; ch++ {
		planes[ch] = make([]float32, count)
		for i := 0; i < count; i++ {
			planes[ch][i] = lut[ch][src.Pix[3*i+ch]]
		}
	}
	return planes
}
