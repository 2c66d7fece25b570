"""An artifact as bytes and back (the Ray sweep ships artifacts between stores): the checks on what comes in.

:meth:`engine.store.Store.export` packs an artifact as an uncompressed tar of ``kind/key/<file>`` members;
:func:`unpack_export` reads one back and refuses, before anything is written, whatever is not exactly that.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from .errors import UnlearnError

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
ARRAYS = "arrays.npz"
#: the files an artifact folder may hold
ARTIFACT_FILES = (MANIFEST, WEIGHTS, ARRAYS)


def unpack_export(data: bytes) -> tuple[str, str, dict[str, bytes]]:
    """``(kind, key, {file name: bytes})`` of an exported artifact, checked: members that are not regular files
    (links, devices, folders), names other than ``kind/key/<file>`` (absolute paths, ``..``, nesting, unknown files),
    duplicates, a manifest whose kind / key differ from the path, a file the manifest does not list or a listed one
    that is missing, and any sha256 mismatch are refused with :class:`UnlearnError`."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as exc:
        raise UnlearnError(f"not an exported artifact: {exc}") from None
    files: dict[str, bytes] = {}
    kind = key = None
    with tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[2] not in ARTIFACT_FILES:
                raise UnlearnError(f"refused artifact member {member.name!r}: expected kind/key/"
                                   f"{{{','.join(ARTIFACT_FILES)}}} regular files")
            if kind is None:
                kind, key = parts[0], parts[1]
            if (parts[0], parts[1]) != (kind, key) or parts[2] in files:
                raise UnlearnError(f"refused artifact member {member.name!r}: one artifact per import, "
                                   "each file once")
            fh = tar.extractfile(member)
            files[parts[2]] = fh.read() if fh is not None else b""
    if kind is None or MANIFEST not in files:
        raise UnlearnError("refused artifact: no manifest.json")
    try:
        manifest = json.loads(files[MANIFEST])
        listed = dict(manifest["files"])
        same = (manifest["kind"], manifest["key"]) == (kind, key)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise UnlearnError(f"refused artifact {kind}/{key}: unreadable manifest ({exc})") from None
    if not same:
        raise UnlearnError(f"refused artifact {kind}/{key}: its manifest names another artifact")
    if set(listed) != set(files) - {MANIFEST}:
        raise UnlearnError(f"refused artifact {kind}/{key}: files {sorted(set(files) - {MANIFEST})} but the "
                           f"manifest lists {sorted(listed)}")
    for name, digest in listed.items():
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise UnlearnError(f"refused artifact {kind}/{key}: {name} does not match its checksum")
    return kind, key, files
