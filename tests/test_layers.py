"""The architecture as tests: which module may import which, and where the flow is written."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved against its package)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    if path.name == "__init__.py":
        package = path.relative_to(ROOT).parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _modules(*parts: str) -> list[Path]:
    return sorted(p for part in parts for p in (ROOT / part).rglob("*.py") if ".venv" not in p.parts)


def test_audits_and_attacks_never_reach_the_runner_or_the_store():
    forbidden = ("engine.run", "engine.store", "engine.pipeline", "engine.jobs", "engine.presets")
    bad = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.startswith(forbidden))
           for p in _modules("engine/audit", "engine/attacks")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_engine_never_imports_streamlit_and_the_store_never_imports_data():
    bad = [str(p.relative_to(ROOT)) for p in _modules("engine") if any(m.startswith("streamlit") for m in _imports(p))]
    assert bad == []
    assert not any(m.startswith("engine.data") for m in _imports(ENGINE / "store.py"))


def test_methods_know_neither_store_nor_runner():
    bad = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.startswith(("engine.run", "engine.store")))
           for p in _modules("engine/unlearning")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_runner_is_the_only_place_that_writes_artifacts():
    """Every model, reference model, adversarial set and signal is stored by engine/run.py: the flow is written
    once. The UI, the CLI and the report only call the runner."""
    writers = []
    for p in _modules("engine", "ui", "pages") + [ROOT / "app.py"]:
        text = p.read_text()
        if p.name != "store.py" and (".save(" in text and "store" in text or ".cached(" in text):
            writers.append(str(p.relative_to(ROOT)))
    assert writers == ["engine/run.py"]
    flow_words = ("train_model(", "NearestAdversarial(", "audit_model(")
    for p in _modules("ui", "pages") + [ROOT / "app.py", ENGINE / "__main__.py", ENGINE / "report.py"]:
        assert not any(w in p.read_text() for w in flow_words), p
