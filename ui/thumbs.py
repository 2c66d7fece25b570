"""Image thumbnails as PNG data URIs (for st.dataframe's ImageColumn) and upscaled arrays for st.image."""

from __future__ import annotations

import base64
import io

import numpy as np
import streamlit as st


def upscale(img: np.ndarray, size: int = 64) -> np.ndarray:
    """(H, W) or (H, W, C) in [0, 1] → nearest-neighbour upscaled so small digits stay crisp."""
    k = max(1, size // img.shape[0])
    img = np.kron(img, np.ones((k, k) + ((1,) if img.ndim == 3 else ())))
    return np.clip(img, 0, 1)


def to_hwc(x) -> np.ndarray:
    """A (C, H, W) tensor/array → (H, W) for one channel, else (H, W, C)."""
    a = np.asarray(x)
    a = np.transpose(a, (1, 2, 0))
    return a[..., 0] if a.shape[-1] == 1 else a


@st.cache_data(max_entries=8, show_spinner=False)
def data_uris(key: str, _images: np.ndarray, size: int = 48) -> list[str]:
    """PNG data URIs of (N, C, H, W) images in [0, 1]; cached per ``key`` (e.g. the data fingerprint)."""
    from PIL import Image

    out = []
    for img in _images:
        a = (upscale(to_hwc(img), size) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="PNG")
        out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    return out
