"""Where one hot route's CPU goes: the inclusive CPU time per request of the functions you name, over
a row of bench/cpu.py (same requests, same real Redis, no HTTP server).

    PARTS=app.tokens:TokenService.exchange,app.signing:Signer.sign ROWS=exchange .venv/bin/python bench/parts.py

PARTS is a comma-separated list of `module:attribute.path`; each is wrapped, for this run only, to add
up its own process CPU (a wrapper costs ~0.5 us a call). A name bound by `from x import f` elsewhere is
not wrapped there: name the attribute its caller looks up. cProfile (cpu.py's PROFILE=1) multiplies a
small Python function's cost several times over; these sums do not.

A caution for any in-process number that includes a Redis round trip: the CPU a blocking read costs
(the sleep and the wake-up) is much larger on an idle machine than under load, ~60 vs ~30 us a round
trip here, so compare parts without Redis between runs, and the round trip only under like load.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cpu  # noqa: E402  (bench/cpu.py)

totals: dict[str, list[float]] = {}


def wrap(target: str) -> None:
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    function = getattr(owner, name)
    total = totals[target] = [0.0, 0.0]

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            total[0] += time.process_time() - started
            total[1] += 1

    setattr(owner, name, timed)


def per_call(app: Callable[..., Iterable[bytes]], environs: list[cpu.Environ]) -> float:
    for total in totals.values():
        total[:] = [0.0, 0.0]
    result = measured(app, environs)
    n = len(environs)
    for target, (seconds, calls) in totals.items():
        print(f"    {target:60s} {seconds / n * 1e6:8.1f} us a request ({calls / n:.1f} calls)")
    return result


if __name__ == "__main__":
    if not os.environ.get("PARTS") or not os.environ.get("ROWS"):
        sys.exit(__doc__)
    os.environ["ROWS"] = os.environ["ROWS"].split(",")[0]
    for part in os.environ["PARTS"].split(","):
        wrap(part.strip())
    measured = cpu.cpu_per_call
    cpu.cpu_per_call = per_call
    cpu.main()
