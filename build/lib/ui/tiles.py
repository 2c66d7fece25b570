"""Image tiles for ``st.image`` and ``st.dataframe``: pure numpy/PIL, no Streamlit (the cached wrapper of
:func:`data_uris` is :func:`ui.cached.data_uris`).

Images come from the engine as (C, H, W) in [0, 1]; tiles are (H, W, 3) float32 in [0, 1], enlarged by an integer
factor (nearest neighbour, so 8×8 digits stay crisp).
"""

from __future__ import annotations

import base64
import io

import numpy as np

_NEG, _MID, _POS = np.array([0.13, 0.40, 0.67]), np.ones(3), np.array([0.70, 0.09, 0.17])


def to_rgb(img) -> np.ndarray:
    """(C, H, W) with C = 1 or 3, or (H, W), in [0, 1] (array or CPU tensor) → (H, W, 3) float32, clipped."""
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3:
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"expected a (C, H, W) image with 1 or 3 channels or an (H, W) one, got {img.shape}")
    return np.clip(img, 0.0, 1.0)


def upscale(img: np.ndarray, size: int = 64) -> np.ndarray:
    """(H, W) or (H, W, 3) enlarged by the integer factor ``max(1, size // W)`` (nearest neighbour), so about
    ``size`` pixels wide; values and dtype unchanged."""
    img = np.asarray(img)
    f = max(1, int(size) // img.shape[1])
    return img.repeat(f, axis=0).repeat(f, axis=1)


def amplified(delta: np.ndarray) -> np.ndarray:
    """A perturbation δ scaled to fill [0, 1] around 0.5 (grey = unchanged pixel), as (H, W, 3)."""
    delta = np.asarray(delta, dtype=np.float32)
    m = float(np.abs(delta).max())
    return to_rgb(0.5 + 0.5 * delta / m if m > 0 else np.full_like(delta, 0.5))


def heat(attr: np.ndarray) -> np.ndarray:
    """Signed (H, W) attributions as a blue–white–red map (red: evidence for the class), scaled by max |a|."""
    a = np.asarray(attr, dtype=np.float32)
    m = float(np.abs(a).max())
    t = a / m if m > 0 else np.zeros_like(a)
    pos, neg = np.clip(t, 0, 1)[..., None], np.clip(-t, 0, 1)[..., None]
    return np.clip(_MID * (1 - pos - neg) + _POS * pos + _NEG * neg, 0, 1).astype(np.float32)


def framed(img: np.ndarray, color: float = 0.8) -> np.ndarray:
    """(H, W, 3) with a one-pixel grey frame (so white attribution maps stand out from the page)."""
    out = np.pad(img, ((1, 1), (1, 1), (0, 0)), constant_values=color)
    return out.astype(np.float32)


def strip(tiles: list[np.ndarray], size: int = 64, gap: int = 4) -> np.ndarray:
    """(H, W, 3) tiles of equal shape, each upscaled to ``size`` and framed, side by side with white gaps."""
    big = [framed(upscale(t, size)) for t in tiles]
    sep = np.ones((big[0].shape[0], gap, 3), dtype=np.float32)
    out = [big[0]]
    for b in big[1:]:
        out += [sep, b]
    return np.concatenate(out, axis=1)


def png_uri(img: np.ndarray) -> str:
    """(H, W) or (H, W, 3) in [0, 1] → a ``data:image/png;base64,…`` URI (8 bits, rounded; grey stays grey)."""
    from PIL import Image

    a = np.round(np.clip(np.asarray(img, dtype=np.float64), 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def data_uris(images, size: int = 48) -> list[str]:
    """PNG data URIs of (N, C, H, W) images in [0, 1], each upscaled to about ``size`` pixels wide (for
    ``st.column_config.ImageColumn``); one-channel images stay one-channel PNGs."""
    out = []
    for img in np.asarray(images, dtype=np.float32):
        out.append(png_uri(upscale(img[0] if img.shape[0] == 1 else to_rgb(img), size)))
    return out
