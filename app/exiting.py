"""Work a process must do as it ends (write what it holds in memory), however it was started."""

from __future__ import annotations

import atexit
from collections.abc import Callable
from multiprocessing import util
from typing import Any


def on_exit(callback: Callable[..., Any], *args: Any) -> None:
    """Call `callback(*args)` when this process ends normally: at interpreter exit, and in a
    multiprocessing child (a Granian worker), which ends by os._exit after running multiprocessing's
    own finalizers but not atexit's. It may run twice: it must be idempotent."""
    atexit.register(callback, *args)
    util.Finalize(None, callback, args=args, exitpriority=0)
