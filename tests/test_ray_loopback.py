"""Ray talks over loopback only on these machines: a Ray started by the engine binds 127.0.0.1 (its logs say so),
and the ``--address`` path works against a head started with ``ray start --head --node-ip-address 127.0.0.1``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.request import AuditRequest
from engine.run import Runner
from engine.store import Store
from engine.sweep import LOOPBACK, SweepStats, run_grid, start_local_ray


def _bound_in_logs(session_dir: str) -> set[str]:
    """The addresses the raylet says it serves on (its log line "node_manager address: IP:PORT")."""
    out = set()
    for line in (Path(session_dir) / "logs" / "raylet.out").read_text().splitlines():
        if "node_manager address:" in line:
            out.add(line.split("node_manager address:")[1].split()[0].rsplit(":", 1)[0])
    return out


def _listening_ips(pids: set[int]) -> set[str]:
    """The local IPv4 addresses the processes ``pids`` listen on (from ``ss``)."""
    text = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    ips = set()
    for line in text.splitlines():
        if any(f"pid={p}," in line for p in pids):
            ips.add(line.split()[3].rsplit(":", 1)[0].replace("[::ffff:", "").rstrip("]"))
    return ips


def test_a_local_ray_binds_loopback_only():
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")
    ctx = start_local_ray(1)
    try:
        assert ctx.address_info["node_ip_address"] == LOOPBACK
        assert ctx.address_info["gcs_address"].startswith(f"{LOOPBACK}:")
        time.sleep(0.5)
        assert _bound_in_logs(ctx.address_info["session_dir"]) == {LOOPBACK}
        pids = {int(p) for p in os.listdir("/proc") if p.isdigit() and
                ctx.address_info["session_dir"].encode() in _cmdline(int(p))}
        assert pids and _listening_ips(pids) <= {LOOPBACK, "127.0.0.1"}
    finally:
        ray.shutdown()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_sweep_runs_against_a_loopback_head_by_its_address(tiny_spec, _isolated_home):
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")
    # a short folder: Ray's unix sockets live under it (their paths are limited to 107 bytes)
    port, temp = _free_port(), Path(tempfile.mkdtemp(prefix="rayh", dir="/tmp"))
    ray_bin = Path(sys.executable).with_name("ray")
    head = subprocess.Popen([str(ray_bin), "start", "--head", "--node-ip-address", LOOPBACK, "--port", str(port),
                             "--num-cpus", "2", "--disable-usage-stats", "--include-dashboard=false",
                             "--temp-dir", str(temp), "--block"],
                            env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not _head_up(temp) and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _head_up(temp), head.stdout.read().decode()[-2000:] if head.poll() is not None else "no head in 90 s"
        session = next(temp.glob("session_2*"))
        assert _bound_in_logs(str(session)) == {LOOPBACK}
        store = Store(_isolated_home / "store")
        req = AuditRequest.build(tiny_spec, ["ft"], [0], k=2, retrains=1, runs=2, bootstrap=0)
        stats = SweepStats()
        [cmp] = run_grid([req], store, address=f"{LOOPBACK}:{port}", stats=stats)
        assert stats.executed == stats.tasks == 1 + 1 + 1 + 2  # original, retrain, references, two FT runs
        assert sorted(cmp.rows[cmp.rows.method == "ft"]["replica"]) == [0, 1]
        again = Runner(store, build=False).compare(req)
        assert again.rows["ua"].tolist() == cmp.rows["ua"].tolist()
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        for p in [int(p) for p in os.listdir("/proc") if p.isdigit() and str(temp).encode() in _cmdline(int(p))]:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(temp, ignore_errors=True)


def _head_up(temp: Path) -> bool:
    return any(_bound_in_logs(str(s)) for s in temp.glob("session_2*") if (s / "logs" / "raylet.out").exists())
