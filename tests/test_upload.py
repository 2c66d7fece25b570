"""Audit your own model (issue 11, item 3): a safetensors upload in place of the trained original — good, malformed,
mismatched and oversized files, each fault one clear line; the audit with and without a retrain; the CLI form."""

import io
import json
import pickle
import struct
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import save

from engine import upload
from engine.config import ModelSpec
from engine.errors import UnlearnError
from engine.models import build_model
from engine.run import UPLOADED_LABEL, AuditRequest, NotStored, Runner
from engine.store import Store

SHAPE, CLASSES = (1, 8, 8), 10


def _state(arch: str = "mlp", width: int = 32, classes: int = CLASSES) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_model(ModelSpec(arch, width), SHAPE, classes).state_dict()


def _check(state: dict, arch: str = "mlp", width: int = 32) -> dict:
    return upload.load_weights(save(state), ModelSpec(arch, width), SHAPE, CLASSES, name="m.safetensors",
                               dataset="digits")


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# ------------------------------------------------------------------------------------------------ good files
def test_a_good_file_loads_into_the_model_as_float32():
    state = _state()
    out = _check({k: v.double() for k, v in state.items()})  # saved from float64: cast, same values
    assert set(out) == set(state) and all(v.dtype == torch.float32 for v in out.values())
    assert upload.digest(out) == upload.digest(state)
    reordered = save(dict(reversed(list(state.items()))))
    assert upload.digest(upload.load_weights(reordered, ModelSpec("mlp", 32), SHAPE, CLASSES)) == upload.digest(state)


def test_a_cnn_with_batchnorm_buffers_loads():
    state = _state("cnn", 4)
    out = _check(state, "cnn", 4)
    assert out["features.1.num_batches_tracked"].dtype == torch.int64
    build_model(ModelSpec("cnn", 4), SHAPE, CLASSES).load_state_dict(out)


# ------------------------------------------------------------------------------------------------ malformed
def _raw(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


_DUP = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
MALFORMED = {
    "empty": (b"", "m.safetensors is empty; expected safetensors weights"),
    "short": (b"abc", "m.safetensors is 3 bytes: too short for a safetensors file"),
    "text": (b"this is not a weights file at all", "m.safetensors is not a safetensors file: its first 8 bytes "
             "announce a header of"),
    "pickle": (pickle.dumps({"w": [1.0, 2.0]}, protocol=4), "m.safetensors is a Python pickle (torch.save's legacy "
               "format, .pt/.pth/.pkl), which can run code when loaded and is never opened here; save the weights "
               "with safetensors: safetensors.torch.save_file(model.state_dict(), 'model.safetensors')"),
    "not json": (struct.pack("<Q", 4) + b"{{{{" + b"\0" * 8, "m.safetensors is not a safetensors file: its header is "
                 "not JSON"),
    "not a map": (_raw([1, 2], b""), "not a safetensors file: its header is not a map of tensors"),  # type: ignore
    "no tensors": (_raw({"__metadata__": {"a": "b"}}, b""), "m.safetensors holds no tensors"),
    "bad entry": (_raw({"w": {"dtype": "F32"}}, b""), "tensor 'w' has a malformed header entry"),
    "bad dtype": (_raw({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16),
                  "tensor 'w' has dtype 'F128'; supported: F64, F32"),
    "wrong span": (_raw({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
                   "tensor 'w' of shape 2 (F32) needs 8 bytes but its offsets span 4"),
    "overlap": (_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
                "the tensors' data overlap or leave gaps (at 'b')"),
    "trailing": (_raw({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 9),
                 "5 bytes follow the tensor data; not a valid safetensors file"),
    "duplicate": (struct.pack("<Q", len(_DUP)) + _DUP + b"\0" * 4, "tensor 'w' appears twice in the header"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_are_one_clear_line(case):
    data, words = MALFORMED[case]
    with pytest.raises(UnlearnError) as exc:
        upload.load_weights(data, ModelSpec("mlp", 32), SHAPE, CLASSES, name="m.safetensors")
    assert words in _one_line(exc), (case, str(exc.value))


def test_truncated_file():
    data = save(_state())
    with pytest.raises(UnlearnError) as exc:
        _check_bytes(data[:-100])
    line = _one_line(exc)
    assert line.startswith("m.safetensors is truncated: its header describes ") and "upload the whole file" in line


def _check_bytes(data: bytes) -> dict:
    return upload.load_weights(data, ModelSpec("mlp", 32), SHAPE, CLASSES, name="m.safetensors", dataset="digits")


@pytest.mark.parametrize("legacy", [False, True])
def test_torch_save_files_are_refused_unopened(legacy, monkeypatch):
    """.pt / .pth from torch.save (a zip with a pickle inside, or the legacy bare pickle): refused by their first
    bytes — pickle.loads is never reached."""
    buf = io.BytesIO()
    torch.save(_state(), buf, _use_new_zipfile_serialization=not legacy)

    def boom(*a, **k):
        raise AssertionError("something tried to unpickle the upload")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(torch, "load", boom)
    with pytest.raises(UnlearnError) as exc:
        upload.load_weights(buf.getvalue(), ModelSpec("mlp", 32), SHAPE, CLASSES, name="model.pth")
    line = _one_line(exc)
    assert ("is a zip archive" if not legacy else "is a Python pickle") in line and "never opened here" in line


# ------------------------------------------------------------------------------------------------ mismatched
def test_wrong_width_names_the_width_the_file_has():
    with pytest.raises(UnlearnError) as exc:
        _check(_state(width=16))
    assert _one_line(exc) == ("m.safetensors does not fit mlp (width 32): net.1.weight is 16×64 in the file and 32×64 "
                              "in the model (and 4 more) — the file is mlp of width 16: choose width 16")


def test_wrong_class_count():
    with pytest.raises(UnlearnError) as exc:
        _check(_state(classes=8))
    assert _one_line(exc) == "m.safetensors has 8 output classes (net.5.weight is 8×32); digits has 10 classes"


def test_missing_and_extra_tensors():
    state = _state()
    with pytest.raises(UnlearnError) as exc:
        _check({k: v for k, v in state.items() if k != "net.3.bias"})
    assert _one_line(exc) == "m.safetensors does not fit mlp (width 32): missing net.3.bias"
    with pytest.raises(UnlearnError) as exc:
        _check({**state, "extra.weight": torch.zeros(3)})
    assert _one_line(exc) == "m.safetensors does not fit mlp (width 32): unexpected extra.weight"
    with pytest.raises(UnlearnError) as exc:
        _check({f"module.{k}": v for k, v in state.items()})
    assert "saved from DataParallel" in _one_line(exc)


def test_another_architecture_is_named():
    with pytest.raises(UnlearnError) as exc:
        _check(_state("cnn", 4))
    line = _one_line(exc)
    assert line.startswith("m.safetensors does not fit mlp (width 32): missing net.1.weight, net.1.bias, net.3.weight, "
                           "net.3.bias and 2 more; unexpected ")
    assert line.endswith("its tensor names are those of cnn: choose that architecture")
    with pytest.raises(UnlearnError) as exc:  # resnet18 and resnet18_amun share their names
        _check(_state("resnet18", 2))
    assert "those of resnet18 or resnet18_amun" in _one_line(exc)


def test_dtypes_and_values():
    state = _state()
    with pytest.raises(UnlearnError) as exc:
        _check({**state, "net.1.weight": state["net.1.weight"].to(torch.int32)})
    assert _one_line(exc) == ("m.safetensors: net.1.weight has dtype I32; the model's parameters are floating point "
                              "(F16, BF16, F32, F64)")
    bad = state["net.3.weight"].clone()
    bad[0, :3] = torch.tensor([float("nan"), float("inf"), -float("inf")])
    with pytest.raises(UnlearnError) as exc:
        _check({**state, "net.3.weight": bad})
    assert _one_line(exc) == "m.safetensors: net.3.weight holds 3 non-finite value(s) (NaN or ±inf) of 1,024"
    cnn = _state("cnn", 4)
    with pytest.raises(UnlearnError) as exc:
        _check({**cnn, "features.1.running_var": -torch.ones(4)}, "cnn", 4)
    assert _one_line(exc) == ("m.safetensors: features.1.running_var has negative values; a BatchNorm running variance "
                              "is ≥ 0")


def test_outputs_must_be_finite():
    state = _state()
    huge = {k: v * 1e30 if k.endswith("weight") else v for k, v in state.items()}  # finite weights, logits overflow
    model = build_model(ModelSpec("mlp", 32), SHAPE, CLASSES)
    model.load_state_dict(_check(huge))
    with pytest.raises(UnlearnError) as exc:
        upload.check_outputs(model, torch.rand(4, *SHAPE), "m.safetensors")
    assert _one_line(exc).startswith("m.safetensors: the model's outputs on the data are not finite")


# ------------------------------------------------------------------------------------------------ oversized
def test_oversized_files_are_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.safetensors"
    with open(big, "wb") as f:  # sparse: 201 MiB on paper, nothing on disk
        f.truncate(upload.MAX_UPLOAD_BYTES + (1 << 20))

    def never(*a, **k):
        raise AssertionError("the oversized file was read")

    monkeypatch.setattr(type(big), "read_bytes", never)
    with pytest.raises(UnlearnError) as exc:
        upload.read_file(big)
    assert _one_line(exc) == "big.safetensors is 201.0 MB; weights files are limited to 200 MB"
    with pytest.raises(UnlearnError) as exc:  # bytes already in memory (the dashboard): the same line
        upload.check_size(250 << 20, "up.bin")
    assert _one_line(exc) == "up.bin is 250.0 MB; weights files are limited to 200 MB"
    with pytest.raises(UnlearnError) as exc:
        upload.read_file(tmp_path / "nope.safetensors")
    assert "cannot read it" in _one_line(exc)


def test_the_dashboard_upload_cap_matches_the_engine():
    import tomllib
    from pathlib import Path

    cfg = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == upload.MAX_UPLOAD_BYTES >> 20


# ------------------------------------------------------------------------------------------------ the audit
def _trained_weights(runner: Runner, spec) -> bytes:
    return (runner.original(spec).artifact.path / "weights.safetensors").read_bytes()


def test_an_uploaded_original_is_audited_like_the_trained_one(tiny_spec, tmp_path):
    """The trained original's own weights, uploaded: the same numbers, row for row, labelled as your model."""
    runner = Runner(Store(tmp_path))
    tm = runner.upload(_trained_weights(runner, tiny_spec), tiny_spec, name="mine.safetensors")
    assert tm.artifact.manifest["name"] == "mine.safetensors" and tm.kind == "uploaded"
    again = runner.upload(_trained_weights(runner, tiny_spec), tiny_spec, name="again.safetensors")
    assert again.key == tm.key and again.artifact.from_cache  # the same weights: the same artifact
    trained = runner.compare(AuditRequest.build(tiny_spec, ["ft"], k=2))
    mine = runner.compare(AuditRequest.build(tiny_spec, ["ft"], k=2, original=tm.key))
    assert mine.labels["original"] == UPLOADED_LABEL
    cols = ["ua", "ra", "ta", "ft_auc", "mia_efficacy", "avg_gap", "phi_shift"]
    np.testing.assert_allclose(mine.rows[cols].to_numpy(float), trained.rows[cols].to_numpy(float))
    assert mine.models[("original", 0)].key == tm.key
    # a store-only reader (a page) finds the upload's audit by its request
    req = AuditRequest.build(tiny_spec, ["ft"], k=2, original=tm.key)
    assert Runner(Store(tmp_path), build=False).compare(req).rows.shape == mine.rows.shape
    assert AuditRequest.from_record(runner.store.load("comparison", req.key()).manifest) == req


def test_without_a_retrain_there_is_no_retrain_row_and_no_avg_gap(tiny_spec, tmp_path):
    runner = Runner(Store(tmp_path))
    tm = runner.upload(_trained_weights(runner, tiny_spec), tiny_spec)
    cmp = runner.compare(AuditRequest.build(tiny_spec, ["ft"], k=2, original=tm.key, retrains=0))
    assert set(cmp.rows["method"]) == {"original", "ft"} and not cmp.has_retrain
    assert cmp.rows["avg_gap"].isna().all() and cmp.rows["phi_shift"].isna().all()
    assert cmp.rows["ft_auc"].notna().all() and cmp.rows["mia_efficacy"].notna().all()
    table = cmp.formatted()
    assert list(table.index) == [UPLOADED_LABEL, "Fine-tune"] and set(table["Avg Gap"]) == {"–"}
    assert "No retrain in this audit" in cmp.note() and "not defined" in cmp.note()
    assert set(cmp.best()) <= {"seconds"}  # "closest to Retrain" is not defined without one
    assert "vs chance 50.0" in cmp.membership_check().message
    assert not list(runner.store.root.glob("retrain/*"))  # nothing retrained
    from engine import report

    figs = report.report_figures(cmp)
    names = {f.name for f in figs}
    assert "avg-gap" not in names and "phi-shift" not in names and "confidence-original-ft-seed0" in names
    html = report.html_report(cmp, figs, include_plotlyjs="cdn")
    assert "your model</b>, uploaded as <code>the weights file</code>" in html and "No retrain was" in html


def test_a_store_only_reader_never_stores_an_upload(tiny_spec, tmp_path):
    trainer = Runner(Store(tmp_path))
    weights = _trained_weights(trainer, tiny_spec)
    with pytest.raises(NotStored):
        Runner(Store(tmp_path), build=False).upload(weights, tiny_spec)
    tm = trainer.upload(weights, tiny_spec)
    assert Runner(Store(tmp_path), build=False).upload(weights, tiny_spec).key == tm.key
    with pytest.raises(NotStored) as exc:
        Runner(Store(tmp_path), build=False).uploaded("0123456789abcdef", tiny_spec)
    assert "upload its weights again" in str(exc.value)


def test_an_upload_is_tied_to_its_data_and_model(tiny_spec, tmp_path):
    runner = Runner(Store(tmp_path))
    tm = runner.upload(_trained_weights(runner, tiny_spec), tiny_spec, name="mine.safetensors")
    other = replace(tiny_spec, data=replace(tiny_spec.data, train_size=250))
    with pytest.raises(UnlearnError) as exc:
        runner.uploaded(tm.key, other)
    assert _one_line(exc) == (f"uploaded model {tm.key} (mine.safetensors) was checked for mlp of width 32 on digits "
                              "(train size 200); the audit asks for mlp of width 32 on digits (train size 250)")
    with pytest.raises(UnlearnError) as exc:  # the same file for a wider model: refused with the width it has
        runner.upload(_trained_weights(runner, tiny_spec), replace(tiny_spec, model=ModelSpec("mlp", 64)),
                      name="mine.safetensors")
    assert "choose width 32" in _one_line(exc)


def test_retrains_zero_is_allowed_and_negative_refused(tiny_spec):
    assert AuditRequest.build(tiny_spec, ["ft"], retrains=0).retrains == 0
    with pytest.raises(UnlearnError, match="between 0 and 128"):
        AuditRequest.build(tiny_spec, ["ft"], retrains=-1)


def test_a_sweep_refuses_an_uploaded_original(tiny_spec):
    from engine.sweep import plan

    with pytest.raises(UnlearnError, match="sweep trains its original models"):
        plan([AuditRequest.build(tiny_spec, ["ft"], original="0123456789abcdef")])


# ------------------------------------------------------------------------------------------------ the CLI
def test_cli_audits_your_model_and_refuses_a_pickle(tmp_path):
    from test_cli import cli

    store = tmp_path / "store"
    base = ("--store", str(store), "--set", "train.epochs=3", "--set", "data.train_size=200", "--width", "32",
            "--forget", "indices:0-19", "--seeds", "0", "--k", "2")
    state = _state()
    torch.manual_seed(0)
    model = build_model(ModelSpec("mlp", 32), SHAPE, CLASSES)
    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(save({k: v.contiguous() for k, v in model.state_dict().items()}))
    out = cli("audit", *base, "--weights", str(weights), "--methods", "ft", "--no-retrain", "--out",
              str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    assert "your model: mine.safetensors fits mlp (width 32) on digits" in out.stderr
    assert "| Your model |" in out.stdout and "| Retrain |" not in out.stdout and "No retrain" in out.stdout
    assert not (store / "original").exists() and not (store / "retrain").exists()
    pt = tmp_path / "model.pt"
    torch.save(state, pt)
    bad = cli("audit", *base, "--weights", str(pt), "--methods", "ft")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error: model.pt is a zip archive (torch.save's .pt/.pth format holds a pickle")


def test_an_upload_for_an_image_folder(tmp_path):
    """The data set of an upload can be an image folder: the model is checked against its shape and class count."""
    from PIL import Image

    from engine.config import DataSpec, RunSpec, TrainConfig

    rng = np.random.default_rng(0)
    for c in ("cats", "dogs", "owls"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / "pets" / c / f"{i}.png")
    spec = RunSpec(data=DataSpec("imagefolder", path=str(tmp_path / "pets"), image_size=8, val_fraction=0.0),
                   model=ModelSpec("mlp", 16), train=TrainConfig(epochs=1, batch_size=8, augment=False),
                   forget="indices:0-2")
    torch.manual_seed(0)
    good = save(build_model(ModelSpec("mlp", 16), (3, 8, 8), 3).state_dict())
    runner = Runner(Store(tmp_path / "store"))
    tm = runner.upload(good, spec, name="pets.safetensors")
    assert tm.artifact.manifest["n_params"] == 3 * 64 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3
    with pytest.raises(UnlearnError) as exc:  # a model for ten classes on a three-class folder
        runner.upload(save(build_model(ModelSpec("mlp", 16), (3, 8, 8), 10).state_dict()), spec, name="ten.safetensors")
    assert _one_line(exc) == "ten.safetensors has 10 output classes (net.5.weight is 10×16); imagefolder has 3 classes"
    with pytest.raises(UnlearnError) as exc:  # grey 8×8 inputs (digits) on a colour folder
        runner.upload(save(build_model(ModelSpec("mlp", 16), (1, 8, 8), 3).state_dict()), spec, name="grey.safetensors")
    assert _one_line(exc) == ("grey.safetensors does not fit mlp (width 16): net.1.weight is 16×64 in the file and "
                              "16×192 in the model — imagefolder images are 3×8×8 (channels × height × width); the "
                              "file expects others")
