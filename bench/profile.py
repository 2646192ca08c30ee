"""`--profile`: py-spy attached to the server under test during a measured window, and a
short summary of where its samples fell (issue 15: "profile with py-spy under make bench
and put the profile summary in docs/benchmarks.md").

py-spy samples from outside the process (``--nonblocking``: it never pauses the server)
and is pinned to the generator's CPU, so the server's CPU 0 stays its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import proc

RATE_HZ = 100
TOP = 12
# Frames of the event loop's and the standard library's plumbing: a sample is charged to
# the deepest frame outside them (the code that asked for the work).
PLUMBING = re.compile(
    r"\((asyncio|threading|concurrent|selectors|queue|contextlib|functools|typing|enum|"
    r"dataclasses|abc|email|logging|uvloop)(/|\.py:)"
)
GENERATED = "<string> (generated code: schema validators, dataclass methods)"
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy executable (the venv's first), or None when it is not installed."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def unavailable() -> str | None:
    """None when --profile can run, else the reason."""
    if py_spy() is None:
        return "py-spy is not installed (pip install py-spy; make bench installs it)"
    return None


def start(pid: int, seconds: float, out: Path, cpu: int) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` (all its threads) for ``seconds`` into ``out`` (collapsed stacks)."""
    exe = py_spy()
    if exe is None:
        return None
    cmd = [
        exe, "record", "--pid", str(pid), "--nonblocking",
        "--rate", str(RATE_HZ), "--duration", str(max(1, round(seconds))),
        "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    p = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    proc.pin(p.pid, cpu)
    return p


def finish(p: subprocess.Popen[bytes], out: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Wait for py-spy and summarise its output; {"error": ...} when it produced none."""
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    try:
        text = out.read_text()
    except OSError:
        return {"error": f"py-spy exited {p.returncode}: {err.decode(errors='replace')[-300:]}"}
    finally:
        keep = os.environ.get("BENCH_KEEP_PROFILE")  # a path: keep the raw samples there
        if keep:
            with contextlib.suppress(OSError):
                shutil.copyfile(out, keep)
        out.unlink(missing_ok=True)
    return summarize(text)


def _module(file: str) -> str:
    """A frame's file as a module-ish key: ampyre/gateway/server.py -> ampyre/gateway,
    sqlalchemy/engine/base.py -> sqlalchemy/engine, <module> files as they are."""
    if file == "<string>":
        return GENERATED
    parts = file.split("/")
    depth = 2 if parts[0] == "ampyre" else 1
    return "/".join(parts[: min(depth, len(parts) - 1)]) or file


def summarize(collapsed: str) -> dict[str, Any]:
    """Shares of samples by module and by function from py-spy's raw (collapsed) output:
    one line per stack, ``frame;frame;... count``, the innermost frame last."""
    total = 0
    modules: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        pick = next((f for f in reversed(frames) if not PLUMBING.search(f)), frames[-1])
        m = FRAME.match(pick)
        func, file = (m["func"], m["file"]) if m else (pick, pick)
        modules[_module(file)] += n
        functions[f"{func} ({file})"] += n
    if not total:
        return {"samples": 0, "modules": [], "functions": []}
    return {
        "samples": total,
        "modules": [[k, v / total] for k, v in modules.most_common(TOP)],
        "functions": [[k, v / total] for k, v in functions.most_common(TOP)],
    }


def render(label: str, summary: dict[str, Any]) -> list[str]:
    """Markdown lines for one profiled row."""
    if summary.get("error"):
        return [f"Profile of {label}: {summary['error']}"]
    if not summary.get("samples"):
        return [f"Profile of {label}: no samples."]
    out = [
        f"Profile of {label} (py-spy, {summary['samples']:,} samples at {RATE_HZ} Hz over "
        "the measured window, all threads, idle ones left out; a sample counts for the "
        "deepest frame outside asyncio/uvloop/threading plumbing, so time in uvloop's C "
        "code shows as its Python caller, e.g. `_run (ampyre/cli.py)`):",
        "",
        "| module | share | | function | share |",
        "|---|---:|---|---|---:|",
    ]
    mods, funcs = summary["modules"], summary["functions"]
    for i in range(max(len(mods), len(funcs))):
        left = f"{mods[i][0]} | {mods[i][1] * 100:.1f} %" if i < len(mods) else " | "
        right = f"`{funcs[i][0]}` | {funcs[i][1] * 100:.1f} %" if i < len(funcs) else " | "
        out.append(f"| {left} | | {right} |")
    return out
