"""Your own model: a safetensors weights file for an architecture the engine builds, checked before anything uses it.

The file is parsed by hand before the ``safetensors`` library sees it, so every way a file can be wrong is one clear
:class:`UnlearnError` line instead of a library traceback:

* **format** — size over :data:`MAX_UPLOAD_BYTES` (read no further), a Python pickle or a zip archive (what
  ``torch.save`` writes: ``.pt`` / ``.pth`` / ``.pkl``; never unpickled here, whatever its name), too short, a header
  length past the end, a header that is not JSON or not a map of tensor entries, duplicate names, an unknown dtype,
  offsets that do not tile the data, truncated or trailing data;
* **fit** — every tensor name and shape against the model the spec builds (missing and unexpected tensors, with the
  architecture the names do match; a width the file has; the class count of the output layer against the data set's);
  floating-point parameters from F16 / BF16 / F32 / F64 (stored as float32), integer buffers from integer dtypes;
* **values** — every value finite, BatchNorm running variances ≥ 0 and batch counts ≥ 0; and the loaded model's
  outputs on the data finite (:func:`check_outputs`).

Nothing here reads or writes the store: :meth:`engine.run.Runner.upload` stores the checked weights as an artifact of
kind ``uploaded`` keyed by the data, the model spec and :func:`digest` (a content hash of the weights).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import torch
from torch import nn

from .config import ModelSpec
from .errors import UnlearnError
from .models import MODELS, build_model

#: the largest weights file accepted, in bytes (200 MiB: a CIFAR ResNet-18 in float32 is 45 MB, at twice the width
#: 179 MB); the dashboard's uploader has the same cap (``.streamlit/config.toml`` ``server.maxUploadSize = 200``)
MAX_UPLOAD_BYTES = 200 << 20
#: the largest safetensors header accepted (a ResNet-18's is about 10 kB)
MAX_HEADER_BYTES = 1 << 20
#: safetensors dtype → (torch dtype, bytes per element)
DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2),
          "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4), "I16": (torch.int16, 2),
          "I8": (torch.int8, 1), "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1)}
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
INT_DTYPES = ("I64", "I32", "I16", "I8", "U8")
HOW_TO_SAVE = ("save the weights with safetensors: safetensors.torch.save_file(model.state_dict(), "
               "'model.safetensors')")


def read_file(path: str | Path) -> bytes:
    """The bytes of a weights file on this machine (the command line), its size checked before it is read."""
    p = Path(path).expanduser()
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise UnlearnError(f"weights file {p}: cannot read it ({exc.strerror or exc})") from None
    if not p.is_file():
        raise UnlearnError(f"weights file {p}: not a file")
    check_size(size, p.name)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise UnlearnError(f"weights file {p}: cannot read it ({exc.strerror or exc})") from None


def check_size(size: int, name: str = "the weights file") -> None:
    if size > MAX_UPLOAD_BYTES:
        raise UnlearnError(f"{name} is {size / 2**20:.1f} MB; weights files are limited to "
                           f"{MAX_UPLOAD_BYTES / 2**20:g} MB")


# ------------------------------------------------------------------------------------------------ format
def sniff(data: bytes, name: str = "the weights file") -> None:
    """Refuse, by their first bytes, the formats that must never be opened here (pickles can run code)."""
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise UnlearnError(f"{name} is a Python pickle (torch.save's legacy format, .pt/.pth/.pkl), which can run code "
                           f"when loaded and is never opened here; {HOW_TO_SAVE}")
    if data[:4] == b"PK\x03\x04":
        raise UnlearnError(f"{name} is a zip archive (torch.save's .pt/.pth format holds a pickle, which can run code "
                           f"when loaded and is never opened here); {HOW_TO_SAVE}")


def read_safetensors(data: bytes, name: str = "the weights file") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, every structural fault one :class:`UnlearnError` line (see module doc)."""
    check_size(len(data), name)
    if not data:
        raise UnlearnError(f"{name} is empty; expected safetensors weights")
    sniff(data, name)
    if len(data) < 10:
        raise UnlearnError(f"{name} is {len(data)} bytes: too short for a safetensors file (an 8-byte header "
                           "length, a JSON header, the tensor data)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise UnlearnError(f"{name} is not a safetensors file: its first 8 bytes announce a header of {n:,} bytes and "
                           f"the file has {len(data):,}")

    def no_duplicates(pairs: list) -> dict:
        names = [k for k, _ in pairs]
        if len(set(names)) != len(names):
            dup = next(k for k in names if names.count(k) > 1)
            raise UnlearnError(f"{name}: tensor {dup!r} appears twice in the header")
        return dict(pairs)

    try:
        header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnlearnError(f"{name} is not a safetensors file: its header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise UnlearnError(f"{name} is not a safetensors file: its header is not a map of tensors")
    header.pop("__metadata__", None)
    if not header:
        raise UnlearnError(f"{name} holds no tensors")
    body = len(data) - 8 - n
    spans = []
    for key, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise UnlearnError(f"{name}: tensor {key!r} has a malformed header entry (expected dtype, shape, "
                               "data_offsets)")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise UnlearnError(f"{name}: tensor {key!r} has dtype {dtype!r}; supported: {', '.join(DTYPES)}")
        ok_shape = isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)
        ok_offsets = (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
                      and 0 <= offsets[0] <= offsets[1])
        if not ok_shape or not ok_offsets:
            raise UnlearnError(f"{name}: tensor {key!r} has a malformed shape or data_offsets in the header")
        numel = 1
        for d in shape:
            numel *= d
        if offsets[1] - offsets[0] != numel * DTYPES[dtype][1]:
            raise UnlearnError(f"{name}: tensor {key!r} of shape {_dims(shape)} ({dtype}) needs "
                               f"{numel * DTYPES[dtype][1]:,} bytes but its offsets span {offsets[1] - offsets[0]:,}")
        spans.append((offsets[0], offsets[1], key))
    spans.sort()
    end = 0
    for lo, hi, key in spans:
        if lo != end:
            raise UnlearnError(f"{name}: the tensors' data overlap or leave gaps (at {key!r}); not a valid "
                               "safetensors file")
        end = hi
    if end > body:
        raise UnlearnError(f"{name} is truncated: its header describes {end:,} bytes of tensor data and the file holds "
                           f"{body:,}; upload the whole file")
    if end < body:
        raise UnlearnError(f"{name}: {body - end:,} bytes follow the tensor data; not a valid safetensors file")
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return load(data)
    except (SafetensorError, ValueError) as exc:  # everything above passed: a fault only the library sees
        raise UnlearnError(f"{name} is not a valid safetensors file ({exc})") from None


# ------------------------------------------------------------------------------------------------ fit
def _dims(shape) -> str:
    return "×".join(map(str, shape)) if len(shape) else "a scalar"


def _meta_state(spec: ModelSpec, shape: tuple[int, int, int], num_classes: int) -> dict[str, torch.Tensor]:
    """The state dict of the model ``spec`` builds, on the meta device (shapes and dtypes, no memory)."""
    with torch.device("meta"):
        return build_model(spec, shape, num_classes).state_dict()


def _other_architecture(names: set[str], spec: ModelSpec, shape, num_classes: int) -> str | None:
    for arch in MODELS:
        if arch != spec.arch and set(_meta_state(ModelSpec(arch, MODELS[arch].default_width), shape,
                                                 num_classes)) == names:
            twins = [a for a in MODELS if a != arch and set(_meta_state(ModelSpec(a, MODELS[a].default_width), shape,
                                                                        num_classes)) == names]
            return " or ".join([arch, *twins])
    return None


def _head(state: dict[str, torch.Tensor]) -> str:
    """The output layer's weight: the last 2-D tensor of the model's state dict (every model ends in a Linear)."""
    return [k for k, v in state.items() if v.dim() == 2][-1]


def check_weights(tensors: dict[str, torch.Tensor], spec: ModelSpec, shape: tuple[int, int, int], num_classes: int, *,
                  name: str = "the weights file", dataset: str = "the data set") -> dict[str, torch.Tensor]:
    """The state dict to load into ``build_model(spec, shape, num_classes)``: every name and shape checked against
    it, float parameters as float32, every value finite and in range; else one :class:`UnlearnError` line."""
    want = _meta_state(spec, shape, num_classes)
    what = f"{spec.arch} (width {spec.width})"
    missing, extra = [k for k in want if k not in tensors], [k for k in tensors if k not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if extra:
            parts.append(f"unexpected {_few(extra)}")
        hint = ""
        if all(k.startswith("module.") for k in tensors):
            hint = "; its names start with 'module.' (saved from DataParallel): save model.module.state_dict()"
        elif (other := _other_architecture(set(tensors), spec, shape, num_classes)) is not None:
            hint = f"; its tensor names are those of {other}: choose that architecture"
        raise UnlearnError(f"{name} does not fit {what}: {'; '.join(parts)}{hint}")
    head = _head(want)
    if tensors[head].dim() == 2 and tensors[head].shape[0] != num_classes:
        raise UnlearnError(f"{name} has {tensors[head].shape[0]} output classes ({head} is "
                           f"{_dims(tensors[head].shape)}); {dataset} has {num_classes} classes")
    wrong = [k for k, v in want.items() if tuple(tensors[k].shape) != tuple(v.shape)]
    if wrong:
        k = wrong[0]
        first = next(iter(want))
        hint = ""
        if tensors[first].dim() >= 1:
            width = int(tensors[first].shape[0])
            if width != spec.width and width >= 1:
                alt = _meta_state(ModelSpec(spec.arch, width), shape, num_classes)
                if all(tuple(tensors[j].shape) == tuple(alt[j].shape) for j in alt):
                    hint = f" — the file is {spec.arch} of width {width}: choose width {width}"
        if not hint and k == first:  # the input layer: images of another shape (channels or size)
            hint = f" — {dataset} images are {_dims(shape)} (channels × height × width); the file expects others"
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        raise UnlearnError(f"{name} does not fit {what}: {k} is {_dims(tensors[k].shape)} in the file and "
                           f"{_dims(want[k].shape)} in the model{more}{hint}")
    dtype_of = {v: k for k, (v, _) in DTYPES.items()}
    out = {}
    for k, ref in want.items():
        t, kind = tensors[k], dtype_of[tensors[k].dtype]
        if ref.dtype.is_floating_point:
            if kind not in FLOAT_DTYPES:
                raise UnlearnError(f"{name}: {k} has dtype {kind}; the model's parameters are floating point "
                                   f"({', '.join(FLOAT_DTYPES)})")
            bad = int((~torch.isfinite(t)).sum())
            if bad:
                raise UnlearnError(f"{name}: {k} holds {bad:,} non-finite value(s) (NaN or ±inf) of {t.numel():,}")
            t = t.to(torch.float32)
            if k.endswith("running_var") and bool((t < 0).any()):
                raise UnlearnError(f"{name}: {k} has negative values; a BatchNorm running variance is ≥ 0")
        else:
            if kind not in INT_DTYPES:
                raise UnlearnError(f"{name}: {k} has dtype {kind}; the model's buffer is an integer ({ref.dtype})")
            t = t.to(ref.dtype)
            if bool((t < 0).any()):
                raise UnlearnError(f"{name}: {k} is negative; it counts batches")
        out[k] = t.contiguous()
    return out


def _few(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def load_weights(data: bytes, spec: ModelSpec, shape: tuple[int, int, int], num_classes: int, *,
                 name: str = "the weights file", dataset: str = "the data set") -> dict[str, torch.Tensor]:
    """:func:`read_safetensors` then :func:`check_weights`: a state dict ready for ``load_state_dict``."""
    return check_weights(read_safetensors(data, name), spec, shape, num_classes, name=name, dataset=dataset)


def check_outputs(model: nn.Module, x: torch.Tensor, name: str = "the weights file") -> None:
    """The loaded model's logits on ``x`` (a batch of the data) must be finite."""
    dev = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        out = model(x.to(dev))
    if not bool(torch.isfinite(out).all()):
        raise UnlearnError(f"{name}: the model's outputs on the data are not finite (NaN or ±inf); its weights are "
                           "too large or were not trained on inputs in [0, 1]")


def digest(state: dict[str, torch.Tensor]) -> str:
    """Content hash of a state dict (names, dtypes, shapes and bytes, in name order): the same weights saved twice,
    in another tensor order or from float64, hash the same once checked."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
