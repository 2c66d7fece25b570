"""ui/tiles.py: image tiles as pure numpy/PIL, checked pixel by pixel on 2×2 inputs."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ui import tiles

A = np.array([[0.0, 0.25], [0.5, 1.0]], dtype=np.float32)  # a 2×2 grey image


def _decode(uri: str) -> Image.Image:
    head, body = uri.split(",", 1)
    assert head == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(body)))


def test_tiles_imports_no_streamlit():
    import subprocess
    import sys

    code = "import sys, ui.tiles; assert 'streamlit' not in sys.modules, 'ui.tiles imported streamlit'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_to_rgb_grey_colour_and_clipping():
    for grey in (A, A[None], torch.as_tensor(A[None])):  # (H, W), (1, H, W), a tensor
        out = tiles.to_rgb(grey)
        assert out.shape == (2, 2, 3) and out.dtype == np.float32
        for c in range(3):
            np.testing.assert_array_equal(out[..., c], A)
    chw = np.stack([A, 1 - A, np.full((2, 2), 0.3)]).astype(np.float32)
    out = tiles.to_rgb(chw)
    np.testing.assert_array_equal(out[0, 1], [0.25, 0.75, np.float32(0.3)])  # channels move last
    np.testing.assert_array_equal(tiles.to_rgb(np.array([[-0.5, 1.5], [0.25, 2.0]]))[..., 0], [[0, 1], [0.25, 1]])
    with pytest.raises(ValueError, match="1 or 3 channels"):
        tiles.to_rgb(np.zeros((2, 4, 4)))


def test_upscale_integer_nearest_neighbour():
    big = tiles.upscale(A, 6)  # factor 3
    assert big.shape == (6, 6) and big.dtype == A.dtype
    np.testing.assert_array_equal(big[:3, :3], 0.0)
    np.testing.assert_array_equal(big[:3, 3:], 0.25)
    np.testing.assert_array_equal(big[3:, :3], 0.5)
    np.testing.assert_array_equal(big[3:, 3:], 1.0)
    rgb = tiles.upscale(tiles.to_rgb(A), 5)  # 5 // 2: factor 2
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_array_equal(rgb[..., 1], np.kron(A, np.ones((2, 2))))
    np.testing.assert_array_equal(tiles.upscale(A, 1), A)  # never shrinks
    wide = np.arange(8, dtype=np.uint8).reshape(2, 4)
    assert tiles.upscale(wide, 8).shape == (4, 8) and tiles.upscale(wide, 8).dtype == np.uint8  # by width


def test_amplified_centres_the_perturbation_on_grey():
    d = np.array([[[0.2, -0.1], [0.0, -0.2]]], dtype=np.float32)  # (1, 2, 2)
    amp = tiles.amplified(d)
    assert amp.shape == (2, 2, 3)
    np.testing.assert_allclose(amp[..., 0], [[1.0, 0.25], [0.5, 0.0]])
    assert (tiles.amplified(np.zeros((1, 2, 2))) == 0.5).all()


def test_heat_maps_sign_to_red_and_blue():
    h = tiles.heat(np.array([[1.0, -1.0], [0.0, 0.5]]))
    assert h.shape == (2, 2, 3) and h.dtype == np.float32 and 0 <= h.min() and h.max() <= 1
    np.testing.assert_allclose(h[0, 0], [0.70, 0.09, 0.17], atol=1e-6)  # full evidence for: red
    np.testing.assert_allclose(h[0, 1], [0.13, 0.40, 0.67], atol=1e-6)  # full evidence against: blue
    np.testing.assert_allclose(h[1, 0], [1, 1, 1])  # no evidence: white
    np.testing.assert_allclose(h[1, 1], [0.85, 0.545, 0.585], atol=1e-6)  # half way to red
    np.testing.assert_allclose(tiles.heat(np.zeros((2, 2))), 1.0)
    np.testing.assert_allclose(tiles.heat(np.array([[2.0, 0.0], [0.0, 0.0]]))[0, 0], h[0, 0], atol=1e-6)  # max |a|


def test_framed_and_strip():
    t = tiles.to_rgb(A)
    f = tiles.framed(t)
    assert f.shape == (4, 4, 3) and f.dtype == np.float32
    np.testing.assert_array_equal(f[1:-1, 1:-1], t)
    border = np.concatenate([f[0], f[-1], f[:, 0], f[:, -1]])
    assert np.allclose(border, 0.8)
    s = tiles.strip([t, 1 - t, t], size=4, gap=2)  # each tile 4×4, framed 6×6
    assert s.shape == (6, 3 * 6 + 2 * 2, 3) and s.dtype == np.float32
    np.testing.assert_array_equal(s[:, 6:8], 1.0)  # white gaps
    np.testing.assert_array_equal(s[:, 8:14], tiles.framed(tiles.upscale(1 - t, 4)))
    np.testing.assert_array_equal(s[1:5, 1:5, 0], np.kron(A, np.ones((2, 2))))


def test_png_uri_round_trips_pixels():
    grey = _decode(tiles.png_uri(A))
    assert grey.mode == "L" and grey.size == (2, 2)
    np.testing.assert_array_equal(np.asarray(grey), [[0, 64], [128, 255]])
    rgb = _decode(tiles.png_uri(np.stack([A, 1 - A, A], -1)))
    assert rgb.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(rgb)[0, 1], [64, 191, 64])


def test_data_uris_upscale_each_image():
    images = np.stack([A[None], (1 - A)[None]])  # (2, 1, 2, 2)
    uris = tiles.data_uris(images, size=4)
    assert len(uris) == 2
    first = _decode(uris[0])
    assert first.mode == "L" and first.size == (4, 4)
    np.testing.assert_array_equal(np.asarray(first), np.kron([[0, 64], [128, 255]], np.ones((2, 2))))
    np.testing.assert_array_equal(np.asarray(_decode(uris[1]))[0, 0], 255)
    colour = _decode(tiles.data_uris(np.random.default_rng(0).random((1, 3, 2, 2)), size=2)[0])
    assert colour.mode == "RGB" and colour.size == (2, 2)
