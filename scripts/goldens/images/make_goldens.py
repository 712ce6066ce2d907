"""Writes small images in every format/mode the decoder must handle, plus
what Pillow's Image.convert("RGB") makes of each: the reference the Go
decoder in encoder/images is tested against.

    pip install pillow numpy
    python scripts/goldens/images/make_goldens.py encoder/images/testdata

Each case <name>.<ext> gets <name>.rgb: raw RGB bytes, row-major, and an
entry in index.json with the size and whether the codec is lossy.
"""
import io
import json
import os
import sys

import numpy as np
from PIL import Image

W, H = 23, 17  # odd sizes catch stride and chroma-subsampling edge cases


def pattern(channels, dtype=np.uint8, hi=255):
    y, x = np.mgrid[0:H, 0:W]
    planes = [
        (x * 11 + y * 3) % (hi + 1),
        (y * 15 + x * 2) % (hi + 1),
        ((x ^ y) * 37) % (hi + 1),
        (x * 7 + y * 13 + 40) % (hi + 1),
    ]
    return np.stack(planes[:channels], axis=-1).astype(dtype)


def smooth():
    """A photo-like image (gradients and one hard edge) for the lossy codecs:
    their chroma subsampling makes pixel noise meaningless to compare."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 40 + 180 * x / (W - 1)
    g = 60 + 150 * y / (H - 1)
    b = 200 - 120 * (x + y) / (W + H - 2)
    disc = (x - 8) ** 2 + (y - 8) ** 2 < 25
    r[disc], g[disc], b[disc] = 230, 40, 40
    return Image.fromarray(np.stack([r, g, b], -1).round().astype(np.uint8))


def cases():
    rgb = Image.fromarray(pattern(3))
    photo = smooth()
    rgba = Image.fromarray(pattern(4), "RGBA")
    yield "rgb_png", "png", rgb, {}
    yield "rgba_png", "png", rgba, {}
    yield "gray_png", "png", Image.fromarray(pattern(1)[..., 0], "L"), {}
    yield "la_png", "png", Image.fromarray(pattern(2), "LA"), {}
    pal = rgb.quantize(colors=16)
    yield "palette_png", "png", pal, {}
    pal_t = pal.copy()
    pal_t.info["transparency"] = 3
    yield "palette_transparent_png", "png", pal_t, {"transparency": 3}
    g16 = Image.fromarray((pattern(1, np.uint32, 65535)[..., 0] * 61 % 65536).astype(np.uint16))
    yield "gray16_png", "png", g16, {}
    yield "rgb_gif", "gif", pal, {}
    yield "rgb_bmp", "bmp", rgb, {}
    yield "rgba_bmp", "bmp", rgba, {}
    yield "rgb_tiff", "tiff", rgb, {}
    yield "rgba_tiff", "tiff", rgba, {}
    yield "cmyk_tiff", "tiff", rgb.convert("CMYK"), {}
    yield "rgb_webp_lossless", "webp", rgb, {"lossless": True}
    yield "rgba_webp_lossless", "webp", rgba, {"lossless": True}
    yield "rgb_webp_lossy", "webp", photo, {"quality": 90}
    yield "rgb_jpeg", "jpeg", photo, {"quality": 95}
    yield "rgb_jpeg_422", "jpeg", photo, {"quality": 90, "subsampling": 1}
    yield "rgb_jpeg_444", "jpeg", photo, {"quality": 90, "subsampling": 0}
    yield "gray_jpeg", "jpeg", Image.fromarray(pattern(1)[..., 0], "L"), {"quality": 95}
    yield "cmyk_jpeg", "jpeg", photo.convert("CMYK"), {"quality": 95}


LOSSY = {"jpeg", "webp_lossy"}


def main(out):
    os.makedirs(out, exist_ok=True)
    index = {"pillow": Image.__version__, "cases": []}
    for name, fmt, img, kw in cases():
        path = os.path.join(out, f"{name}.{fmt}")
        img.save(path, format=fmt.upper() if fmt != "jpeg" else "JPEG", **kw)
        with Image.open(path) as back:
            mode = back.mode
            arr = np.asarray(back.convert("RGB"), dtype=np.uint8)
        arr.tofile(os.path.join(out, f"{name}.rgb"))
        lossy = fmt == "jpeg" or name.endswith("webp_lossy")
        index["cases"].append({"file": f"{name}.{fmt}", "rgb": f"{name}.rgb", "width": arr.shape[1],
                               "height": arr.shape[0], "pil_mode": mode, "lossy": lossy})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(f"wrote {len(index['cases'])} cases to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "encoder/images/testdata")
