"""The audits in the run store, for the History page: what each one ran, and how two of them differ.

Every finished audit leaves a small ``comparison`` record in the store (:meth:`engine.run.Runner._record`: its
spec, methods with their hyperparameters, seeds, D_F-only, K, rows and creation time);
:meth:`engine.run.AuditRequest.from_record` turns one back into the request the pages load. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from engine import config
from engine.run import AuditRequest
from engine.store import Store
from engine.unlearning import METHODS


@dataclass(frozen=True)
class Record:
    """One stored audit: its store key, creation time, manifest, and request (None, with ``problem`` saying why,
    when the record cannot be read back, e.g. a method that no longer exists)."""

    key: str
    created: str
    manifest: dict
    request: AuditRequest | None
    problem: str | None = None

    def rows(self) -> pd.DataFrame:
        """The per-model × seed rows the audit stored (metrics.csv's content)."""
        return pd.DataFrame(self.manifest.get("rows") or [])

    def label(self) -> str:
        """A one-line description that tells audits apart: when (to the second), data (size, epochs), model, forget
        set, methods, seeds and K (for a selection box)."""
        m = self.manifest
        spec = m.get("spec", {})
        data, model, train = spec.get("data", {}), spec.get("model", {}), spec.get("train", {})
        listed = m.get("methods") or []
        keys = [x.key for x in self.request.methods] if self.request is not None else \
            [x[0] if isinstance(x, list) else x for x in listed]
        methods = ", ".join(METHODS[k].label if k in METHODS else k for k in keys)
        when = self.created.replace("T", " ")[:19]
        return (f"{when} · {data.get('dataset', '?')} ({data.get('train_size') or 'all'} images, "
                f"{train.get('epochs', '?')} epochs) · {model.get('arch', '?')} · forget {spec.get('forget', '?')} · "
                f"{methods} · seeds {','.join(map(str, m.get('seeds', [])))} · K {m.get('k', '?')}")


def records(store: Store) -> list[Record]:
    """Every stored audit, newest first."""
    out = []
    for art in store.list("comparison"):
        m = art.manifest
        try:
            req, problem = AuditRequest.from_record(m), None
            # older records kept the methods as a dict (sorted by key); the rows keep the order the audit ran
            order = list(dict.fromkeys(row.get("method") for row in m.get("rows") or []))
            rank = {k: order.index(k) if k in order else len(order) for k in (x.key for x in req.methods)}
            req = replace(req, methods=tuple(sorted(req.methods, key=lambda x: rank[x.key])))
        except Exception as exc:  # noqa: BLE001 - an old or foreign record: listed, not openable
            req, problem = None, f"{type(exc).__name__}: {exc}"
        out.append(Record(art.key, str(m.get("created", "")), m, req, problem))
    return sorted(out, key=lambda r: (r.created, r.key), reverse=True)


def overview(recs: list[Record]) -> pd.DataFrame:
    """One row per audit, compact enough to read without scrolling sideways: when, data (key, size, epochs),
    model, forget set, seeds, number of methods, K, setting, and the method with the lowest mean Avg Gap."""
    rows = []
    for r in recs:
        m = r.manifest
        spec = m.get("spec", {})
        data, model, train = spec.get("data", {}), spec.get("model", {}), spec.get("train", {})
        ds = data.get("dataset", "?")
        size = data.get("train_size")
        best = ""
        table = r.rows()
        if {"method", "avg_gap", "label"} <= set(table.columns):
            cand = table[~table["method"].isin(["original", "retrain"])]
            if len(cand):
                gap = cand.groupby("label", sort=False)["avg_gap"].mean()
                if gap.notna().any():
                    best = f"{gap.idxmin()} ({gap.min():.2f})"
        rows.append({
            "when": r.created.replace("T", " ")[:16],
            "data": f"{ds} · {size or 'all'} images · {train.get('epochs', '?')} epochs",
            "model": model.get("arch", "?"),
            "forget set": spec.get("forget", "?"),
            "seeds": ",".join(map(str, m.get("seeds", []))),
            "methods": len(m.get("methods") or {}),
            "K": m.get("k"),
            "setting": "with D_R" if m.get("use_remain", True) else "D_F only",
            "lowest Avg Gap": best,
        })
    return pd.DataFrame(rows)


def differences(a: AuditRequest, b: AuditRequest) -> list[str]:
    """What differs between two audits' settings, one line each: spec fields (``train.epochs: 200 → 20``), seeds,
    K, D_F-only, and the hyperparameters of methods both ran. Empty when only the method lists differ."""
    out = []
    fa, fb = _flat(config.to_dict(a.spec)), _flat(config.to_dict(b.spec))
    for k in sorted(set(fa) | set(fb)):
        if fa.get(k) != fb.get(k):
            out.append(f"{k}: {fa.get(k)} → {fb.get(k)}")
    for name, va, vb in (("seeds", list(a.seeds), list(b.seeds)), ("K (RMIA reference models)", a.k, b.k),
                         ("D_F only", not a.use_remain, not b.use_remain)):
        if va != vb:
            out.append(f"{name}: {va} → {vb}")
    for m in a.methods:
        other = b.method(m.key)
        if other is None:
            continue
        pa, pb = m.params(), other.params()
        for k in sorted(set(pa) | set(pb)):
            if pa.get(k) != pb.get(k):
                out.append(f"{m.label} {k}: {pa.get(k)} → {pb.get(k)}")
    return out


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def gap_side_by_side(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> pd.DataFrame:
    """Mean Avg Gap per method in both audits (methods of either, Retrain left out: it is 0 by definition), and
    B − A; indexed by the method's label, with its key in ``method``."""
    def mean_gap(rows: pd.DataFrame) -> pd.DataFrame:
        if rows.empty or "avg_gap" not in rows:
            return pd.DataFrame(columns=["method", "label", "gap"])
        g = rows[rows["method"] != "retrain"].groupby("method", sort=False)
        return pd.DataFrame({"label": g["label"].first(), "gap": g["avg_gap"].mean()}).reset_index()

    ga, gb = mean_gap(rows_a), mean_gap(rows_b)
    keys = list(dict.fromkeys([*ga["method"], *gb["method"]]))
    labels = {**dict(zip(gb["method"], gb["label"])), **dict(zip(ga["method"], ga["label"]))}
    a, b = dict(zip(ga["method"], ga["gap"])), dict(zip(gb["method"], gb["gap"]))
    out = pd.DataFrame({"method": keys, "Avg Gap A": [a.get(k, np.nan) for k in keys],
                        "Avg Gap B": [b.get(k, np.nan) for k in keys]}, index=pd.Index([labels[k] for k in keys],
                                                                                       name="model"))
    out["B − A"] = out["Avg Gap B"] - out["Avg Gap A"]
    return out
