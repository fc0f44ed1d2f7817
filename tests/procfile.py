"""The Procfile's `web:` line run as a Procfile runner runs it: expanded by bash ($PORT,
${WEB_CONCURRENCY:-2}, $((...))), bound to 127.0.0.1 where it says 0.0.0.0, its program taken from
a venv when it is there. The live-server tests (tests/compat) and the benches (bench/run.py,
bench/side_by_side.py) start the service with it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def web_line(directory: Path) -> str:
    """The command of the `web:` line of the Procfile in directory."""
    for line in (directory / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line[len("web:") :].strip()
    raise ValueError(f"{directory / 'Procfile'} has no web: line")


def web_words(line: str, port: int, workers: int, bin_dir: Path) -> list[str]:
    """A web line as the arguments to run it on port with workers (WEB_CONCURRENCY), its program
    from bin_dir if that holds it."""
    env = dict(os.environ, PORT=str(port), WEB_CONCURRENCY=str(workers))
    printed = subprocess.run(["bash", "-c", f"printf '%s\\0' {line}"], env=env, capture_output=True, text=True)
    if printed.returncode != 0:
        raise ValueError(f"bash could not expand the web line {line!r}: {printed.stderr.strip()}")
    words = [word.replace("0.0.0.0", "127.0.0.1") for word in printed.stdout.split("\0")[:-1]]
    program = bin_dir / words[0]
    if program.exists():
        words[0] = str(program)
    return words
