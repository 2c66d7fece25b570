"""Content-addressed run store: every artifact lives in ``<root>/<kind>/<key>/``.

An artifact directory holds ``manifest.json`` (what produced it: config, library versions, timings, metrics,
and the sha256 of every other file), optional ``weights.safetensors`` and optional ``arrays.npz``
(per-sample values; read with ``allow_pickle=False``).

* Atomic: files are written into a private temporary directory under the root and renamed into place in one
  ``os.rename``; a killed writer leaves no half artifact. Its temporary (named with the writer's host and pid)
  is swept when a store opens: at once when that process is gone, else after an hour.
* Two processes: :meth:`Store.cached` takes an exclusive lock per key (``filelock``), so the second caller
  waits and then reads what the first stored — the same request never builds twice.
* Corruption: on load, every file's sha256 is checked against the manifest; a mismatch, a missing file or
  an unreadable manifest counts as absent, the directory is removed and the artifact is rebuilt. A manifest
  rewritten to list fewer files is caught too: the kinds the runner stores name the files they must hold
  (:data:`REQUIRED_FILES`), and :meth:`Artifact.tensors` / :meth:`Artifact.arrays` of a file the artifact lacks
  remove it and raise one :class:`UnlearnError` line (run again to rebuild it) instead of ``FileNotFoundError``.
* Faults of the disk: a read-only store (results can be read, not written), a full disk, a permission error
  are one :class:`UnlearnError` line each (:func:`store_fault`), raised before anything half-written is left:
  a failed save removes its temporary, so the store holds the artifact whole or not at all.
* Moving artifacts between stores (a Ray worker's private store and the driver's, :mod:`engine.sweep`):
  :meth:`Store.export` gives an artifact as the bytes of a tar of its directory; :meth:`Store.import_bytes`
  checks every name and checksum before writing it atomically like :meth:`Store.save`.

Root: ``Store(root)``, else ``$UNLEARN_HOME/store`` (see :func:`engine.paths.unlearn_home`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import platform
import shutil
import socket
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock

from . import config
from .errors import UnlearnError
from .export import ARRAYS, MANIFEST, WEIGHTS, unpack_export
from .paths import unlearn_home

log = logging.getLogger(__name__)

#: the files an artifact of each kind the runner stores must hold: a manifest that lists fewer (rewritten by hand,
#: with the files deleted) is corrupt, not an artifact without weights. Kinds not named here may hold any.
REQUIRED_FILES = {"original": (WEIGHTS,), "retrain": (WEIGHTS,), "unlearned": (WEIGHTS,), "uploaded": (WEIGHTS,),
                  "reference": (WEIGHTS, ARRAYS), "signals": (ARRAYS,), "adversarial": (ARRAYS,),
                  "theorem": (ARRAYS,)}


def store_fault(exc: BaseException, doing: str, what: str = "the run store") -> UnlearnError:
    """An OS error of the disk under ``what`` (the store, or another folder of ``UNLEARN_HOME``) as one line that
    says what to do (no server path in it)."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or "os error 28" in text:
        return UnlearnError(f"the disk that holds {what} is full ({doing}); free some space, or set UNLEARN_HOME to "
                            "a folder on a larger disk, and run again (nothing half-written was kept)")
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "Read-only file system" in text \
            or "os error 30" in text or "Permission denied" in text:
        return UnlearnError(f"{what} is read-only ({doing}): stored results can be viewed but nothing new can be "
                            "saved; set UNLEARN_HOME to a writable folder to run")
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return UnlearnError(f"{what} cannot be written ({doing}: {reason}); check its disk, or set UNLEARN_HOME to "
                        "another folder")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    import sklearn

    return {
        "engine": config.ENGINE_VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


@dataclass
class Artifact:
    """A stored artifact; ``from_cache`` says whether this call found it rather than built it."""

    path: Path
    manifest: dict
    from_cache: bool = True

    def tensors(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self._file(WEIGHTS)), device=str(device))

    def arrays(self) -> dict[str, np.ndarray]:
        with np.load(self._file(ARRAYS), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def _file(self, name: str) -> Path:
        """The path of one of its files; when the manifest does not list it or it is gone, the artifact is removed
        (so the next run rebuilds it) and one :class:`UnlearnError` line says so."""
        path = self.path / name
        if name not in self.manifest.get("files", {}) or not path.is_file():
            kind = self.manifest.get("kind", self.path.parent.name)
            Store._remove(self.path)
            raise UnlearnError(f"the stored {kind} {self.key[:12]} has no {name} (the store was changed outside the "
                               "tool); it was removed from the store: run again to rebuild it")
        return path

    @property
    def key(self) -> str:
        return self.path.name


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else unlearn_home() / "store"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / ".tmp").mkdir(exist_ok=True)
            (self.root / ".locks").mkdir(exist_ok=True)
        except OSError as exc:
            if not self.root.is_dir():  # a store that cannot even be created: nothing to read either
                raise store_fault(exc, "creating the run store") from None
        self.sweep_tmp()

    def path(self, kind: str, key: str) -> Path:
        if not kind.replace("-", "").replace("_", "").isalnum() or not key.isalnum():
            raise UnlearnError(f"invalid artifact name {kind}/{key}")
        return self.root / kind / key

    # ------------------------------------------------------------------------------------ reading
    def load(self, kind: str, key: str, verify: bool = True) -> Artifact | None:
        """The artifact, or None if absent or corrupt (a corrupt one is removed)."""
        path = self.path(kind, key)
        if not path.is_dir():
            return None
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            files = manifest["files"]
            if not isinstance(files, dict) or not set(files) <= {WEIGHTS, ARRAYS}:
                raise ValueError(f"the manifest lists unexpected files {files!r:.80}")
            lacking = [f for f in REQUIRED_FILES.get(kind, ()) if f not in files]
            if lacking:
                raise ValueError(f"the manifest of a {kind} does not list {', '.join(lacking)}")
            if verify:
                for name, digest in files.items():
                    if _sha256(path / name) != digest:
                        raise ValueError(f"{name} does not match its checksum")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            log.warning("store: %s/%s is corrupt (%s); removing it so it is rebuilt", kind, key, exc)
            self._remove(path)
            return None
        return Artifact(path, manifest)

    def exists(self, kind: str, key: str) -> bool:
        return (self.path(kind, key) / MANIFEST).is_file()

    # ------------------------------------------------------------------------------------ writing
    def save(
        self,
        kind: str,
        key: str,
        manifest: dict[str, Any],
        tensors: dict[str, torch.Tensor] | None = None,
        arrays: dict[str, np.ndarray] | None = None,
    ) -> Artifact:
        """Write an artifact atomically; if another writer got there first, keep theirs."""
        from safetensors import SafetensorError
        from safetensors.torch import save_file

        self.path(kind, key)  # validates the name before anything is written
        tmp = self.root / ".tmp" / f"{kind}-{key}-{_writer()}-{uuid.uuid4().hex}"
        try:
            tmp.mkdir(parents=True)
        except OSError as exc:
            raise store_fault(exc, f"saving {kind} {key[:12]}") from None
        try:
            files = {}
            if tensors is not None:
                save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS))
                files[WEIGHTS] = _sha256(tmp / WEIGHTS)
            if arrays is not None:
                for name, arr in arrays.items():
                    if np.asarray(arr).dtype == object:
                        raise UnlearnError(f"array {name!r} has dtype object; the store keeps plain arrays only")
                np.savez(tmp / ARRAYS, **{k: np.asarray(v) for k, v in arrays.items()})
                files[ARRAYS] = _sha256(tmp / ARRAYS)
            full = {
                "kind": kind,
                "key": key,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "versions": library_versions(),
                **config.to_dict(manifest),
                "files": files,
            }
            (tmp / MANIFEST).write_text(json.dumps(full, indent=1, sort_keys=True, default=_json_default))
            self._publish(tmp, kind, key)
        except (OSError, SafetensorError) as exc:  # a full disk, a store made read-only meanwhile, …
            raise store_fault(exc, f"saving {kind} {key[:12]}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        art = self.load(kind, key, verify=False)
        assert art is not None
        art.from_cache = False
        return art

    def _publish(self, tmp: Path, kind: str, key: str) -> bool:
        """Rename a finished temporary directory into place; False when a valid artifact was there first."""
        final = self.path(kind, key)
        for f in tmp.iterdir():  # flush file contents before the rename makes them visible
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # a corrupt leftover: replace it
                raise
            if self.load(kind, key) is not None:
                return False
            os.rename(tmp, final)
        return True

    # ------------------------------------------------------------------------------------ moving
    def export(self, kind: str, key: str) -> bytes:
        """The artifact ``kind/key`` as the bytes of an uncompressed tar of ``kind/key/<file>`` members.

        Its checksums are verified first; raises :class:`UnlearnError` when it is absent or corrupt.
        """
        art = self.load(kind, key)
        if art is None:
            raise UnlearnError(f"{kind}/{key} is not in the run store")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in (MANIFEST, *sorted(art.manifest["files"])):
                data = (art.path / name).read_bytes()
                info = tarfile.TarInfo(f"{kind}/{key}/{name}")
                info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def import_bytes(self, data: bytes) -> Artifact:
        """Store an artifact exported by :meth:`export` (from another store) and return it.

        Refuses, before anything is written: members that are not regular files (links, devices, folders),
        names other than ``kind/key/<file>`` for one valid kind and key (absolute paths, ``..``, nesting,
        unknown files), duplicates, a manifest whose kind / key differ from the path, a file the manifest does
        not list or a listed one that is missing, and any sha256 mismatch. Written atomically like
        :meth:`save`; when the store already holds a valid ``kind/key``, that one is kept (``from_cache``).
        """
        kind, key, files = unpack_export(data)
        self.path(kind, key)  # validates both names (no '..', separators or odd characters)
        existing = self.load(kind, key)
        if existing is not None:
            return existing
        tmp = self.root / ".tmp" / f"{kind}-{key}-{uuid.uuid4().hex}"
        try:
            tmp.mkdir(parents=True)
            for name, content in files.items():
                (tmp / name).write_bytes(content)
            fresh = self._publish(tmp, kind, key)
        except OSError as exc:
            raise store_fault(exc, f"importing {kind} {key[:12]}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        art = self.load(kind, key, verify=False)
        assert art is not None
        art.from_cache = not fresh
        return art

    @contextlib.contextmanager
    def lock(self, kind: str, key: str) -> Iterator[None]:
        """Exclusive inter-process lock for one artifact key (blocks until free)."""
        self.path(kind, key)  # validates the name
        lock = FileLock(str(self.root / ".locks" / f"{kind}-{key}.lock"))
        try:
            lock.acquire()
        except OSError as exc:  # a read-only store, a full disk: the lock file cannot be created
            raise store_fault(exc, f"locking {kind} {key[:12]} to build it") from None
        try:
            yield
        finally:
            lock.release()

    def cached(self, kind: str, key: str, build: Callable[[], Artifact]) -> Artifact:
        """Load ``kind/key`` or call ``build`` (which must :meth:`save` it) under the key's lock."""
        art = self.load(kind, key)
        if art is not None:
            return art
        with self.lock(kind, key):
            art = self.load(kind, key)  # another process may have built it while we waited
            if art is not None:
                return art
            return build()

    # ------------------------------------------------------------------------------------ upkeep
    def list(self, kind: str | None = None) -> list[Artifact]:
        kinds = [kind] if kind else [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        out = []
        for k in kinds:
            base = self.root / k
            if base.is_dir():
                for d in sorted(base.iterdir()):
                    if d.name.startswith("."):
                        continue
                    art = self.load(k, d.name, verify=False)
                    if art:
                        out.append(art)
        return out

    def sweep_tmp(self, older_than_s: float = 3600) -> int:
        """Remove temporaries left by killed writers — those of a process of this host that is gone, and any older
        than ``older_than_s`` — and directories a killed removal left half-deleted; returns how many."""
        removed, now = 0, time.time()
        tmp = self.root / ".tmp"
        doomed = list(tmp.iterdir()) if tmp.is_dir() else []  # absent in a read-only copy of a store
        doomed += [d for k in self.root.iterdir() if k.is_dir() and not k.name.startswith(".")
                   for d in k.iterdir() if d.name.startswith(".") and ".del-" in d.name]
        for d in doomed:
            try:
                old = now - d.stat().st_mtime > older_than_s
            except OSError:  # another process removed it meanwhile
                continue
            if old or ".del-" in d.name or _writer_gone(d.name):
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
        return removed

    @staticmethod
    def _remove(path: Path) -> None:
        # rename first so a concurrent reader never sees a half-deleted directory
        doomed = path.with_name(f".{path.name}.del-{uuid.uuid4().hex}")
        try:
            os.rename(path, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)


def _writer() -> str:
    """This process as a writer, ``HOST.PID``: part of its temporaries' names, so a later process can tell that the
    writer of a leftover temporary is gone."""
    return f"{socket.gethostname().replace('-', '_')}.{os.getpid()}"


def _writer_gone(name: str) -> bool:
    """Whether the temporary ``name`` (``kind-key-HOST.PID-uuid``) was written by a process of this host that no longer
    runs. Unknown hosts and old-style names count as alive (they are swept by age)."""
    parts = name.split("-")
    if len(parts) < 4:
        return False
    host, _, pid = parts[-2].rpartition(".")
    if host != _writer().rpartition(".")[0] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's process)
        return False
    return False


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
