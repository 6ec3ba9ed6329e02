"""Entry point of the `pm-server` sidecar binary (compiled by build/sidecar with Nuitka).

It is `pm-fast` with no sub-command: serve SQLite in `<pm>` exactly like pm-server.
Kept separate from `pm_fast/__main__.py` so the binary's main module is this small file
and `pm_fast` is compiled as an ordinary package.
"""

import gc
import os
import signal
import sys

# Start-up allocates many objects and frees few: the cyclic collector would run dozens
# of times over the modules being imported, some 8% of the time to the first /ready.
# pm_fast.cli turns it back on once the server listens.
gc.disable()

if os.environ.get("PM_FAST_UNPACK_ONLY") == "1":
    # build/launcher.c runs the onefile executable this way once per build, only to have
    # it unpack the server into its cache directory; nothing is served.
    sys.exit(0)

from pm_fast.boot import import_asyncio_without_ssl, import_msgspec_lean  # noqa: E402

import_asyncio_without_ssl()  # before anything imports asyncio (pm_fast/boot.py)
import_msgspec_lean()  # and msgspec (ibid.)

from pm_fast.cli import main  # noqa: E402


def die_with_launcher() -> None:
    """Make the server die at once when the onefile bootstrap that runs it is killed.

    Launches normally exec the unpacked server directly (build/launcher.c: one process,
    nothing to do here). When the launcher falls back to running the onefile executable
    as it is, that is two processes: the bootstrap the desktop shell spawned,
    and this server, its child. The shell stops a hung server by SIGKILLing the pid it
    spawned and then starts a new one; with the Rust pm-server that pid *was* the
    server. Left alone, the child would notice only up to a second later (Nuitka polls
    for its parent) and then shut down gracefully for up to the grace time, still
    holding its port file and the database while the replacement starts. With
    PR_SET_PDEATHSIG the kernel kills it together with the bootstrap, as before.
    Graceful stops are unaffected: SIGTERM/SIGINT to the bootstrap are forwarded and it
    waits for this process to finish.
    """
    parent = os.environ.get("NUITKA_ONEFILE_PARENT", "")
    if not sys.platform.startswith("linux") or not parent.isdigit():
        return
    if os.getppid() != int(parent):
        return  # not the bootstrap's child (e.g. a re-exec): nothing to tie to
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) != 0:
        return  # not fatal: Nuitka's own parent watch still stops the server
    if os.getppid() != int(parent):  # the bootstrap died before prctl took effect
        os._exit(1)


if __name__ == "__main__":
    die_with_launcher()
    sys.exit(main())
