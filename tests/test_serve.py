"""``unlearn-audit serve`` (engine/serve.py): the dashboard from a source checkout, and from an installed wheel that
carries app.py, pages/, ui/ and the Streamlit settings."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from engine import serve

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str, proc: subprocess.Popen, seconds: float = 90) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _serve(cmd: list[str], cwd: Path, port: int, pythonpath: str = "") -> str:
    """Run ``cmd`` (a serve command) until the server answers; returns what it printed first; stops it."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": pythonpath})
    try:
        assert _healthy(f"http://127.0.0.1:{port}", proc), proc.stdout.read() if proc.poll() is not None else ""
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        proc.terminate()
        try:
            out = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:  # never leave a server behind
            proc.kill()
            out = proc.communicate()[0]
    return out.splitlines()[0]


def test_the_command_carries_the_project_settings_and_binds_to_this_machine():
    cmd = serve.command(port=8600)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(ROOT / "app.py")
    for flag in ("--server.fileWatcherType=none", "--runner.postScriptGC=false", "--server.maxUploadSize=200",
                 "--client.toolbarMode=viewer", "--server.address=127.0.0.1", "--server.port=8600"):
        assert flag in cmd, (flag, cmd)
    assert cmd[-2:] == ["--server.address=127.0.0.1", "--server.port=8600"]  # after the config's: these win


def test_serve_starts_the_dashboard_from_any_folder(tmp_path):
    port = _free_port()
    first = _serve([sys.executable, "-m", "engine", "serve", "--port", str(port)], tmp_path, port, str(ROOT))
    assert first == f"serving {ROOT / 'app.py'} on http://127.0.0.1:{port} (Ctrl-C stops it)"


def test_without_the_dashboards_files_serve_says_what_to_do(monkeypatch, tmp_path):
    from engine.errors import UnlearnError

    monkeypatch.setattr(serve, "__file__", str(tmp_path / "engine" / "serve.py"))
    monkeypatch.setattr(serve.sys, "prefix", str(tmp_path))
    monkeypatch.setattr(serve.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(serve.site, "getuserbase", lambda: str(tmp_path))
    with pytest.raises(UnlearnError, match="reinstall"):
        serve.app_dir()


@pytest.mark.slow
def test_an_installed_wheel_serves_the_dashboard_without_the_source_tree(tmp_path):
    """Build the wheel, install it (no dependencies: they come from this environment) into a fresh venv, and run
    its app.py under AppTest and `unlearn-audit serve` from a folder that is not the checkout."""
    wheels, src = tmp_path / "wheels", tmp_path / "src"  # built from a copy: a build leaves build/ in its folder
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "app.py"):
        shutil.copy(ROOT / name, src / name)
    for name in ("engine", "ui", "pages", ".streamlit"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(src)], check=True, cwd=tmp_path, timeout=300)
    (wheel,) = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    share = next(n.rsplit("app.py", 1)[0] for n in names if n.endswith("share/unlearn-audit/app.py"))
    for page in (ROOT / "pages").glob("*.py"):
        assert f"{share}pages/{page.name}" in names
    assert f"{share}.streamlit/config.toml" in names
    assert {"ui/nav.py", "ui/state.py", "engine/templates/report.html"} <= set(names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "streamlit").is_dir())
    (site_packages / "deps.pth").write_text(f"{deps}\n")  # torch, streamlit, …: this environment's, not downloaded
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300)
    check = ("from streamlit.testing.v1 import AppTest\n"
             "import engine, ui\n"
             "from engine.serve import app_dir\n"
             "assert 'site-packages' in engine.__file__ and 'site-packages' in ui.__file__, (engine, ui)\n"
             "at = AppTest.from_file(str(app_dir() / 'app.py'), default_timeout=120).run()\n"
             "assert not at.exception, at.exception\n"
             "at.switch_page('pages/7_Compare.py').run()\n"
             "assert not at.exception, at.exception\n"
             "print(app_dir(), at.title[0].value)\n")
    out = subprocess.run([str(python), "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0] == str(venv / "share" / "unlearn-audit")
    port = _free_port()
    first = _serve([str(venv / "bin" / "unlearn-audit"), "serve", "--port", str(port)], tmp_path, port)
    assert str(venv / "share" / "unlearn-audit" / "app.py") in first


def test_the_cli_passes_host_port_and_further_streamlit_options(monkeypatch):
    from engine.__main__ import main

    calls = []
    monkeypatch.setattr(serve, "serve", lambda host, port, extra: calls.append((host, port, extra)) or 0)
    assert main(["serve", "--port", "9000", "--", "--server.runOnSave=true"]) == 0
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert calls == [("127.0.0.1", 9000, ["--server.runOnSave=true"]), ("0.0.0.0", 8501, [])]
