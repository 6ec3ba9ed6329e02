"""Benchmarks that run pm-fast's code in this process (services, stores, the WebSocket
edge) use the native code that a server started with the same environment would:
`pm_fast.accel.select` is the start-up call that the server makes in
pm_fast.bootstrap.start, made here once for the whole run."""

import os

from pm_fast import accel

accel.select(pure=os.environ.get("PM_FAST_PURE") == "1")
