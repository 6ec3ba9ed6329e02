import gc

# Start-up allocates many objects and frees few: no cyclic collection while the modules
# import (as the sidecar's entry point, build/pm_server_main.py). `pm_fast.cli` turns
# the collector back on once the server listens, or at once for another command.
gc.disable()

from .boot import import_asyncio_without_ssl, import_msgspec_lean  # noqa: E402

import_asyncio_without_ssl()  # before anything imports asyncio (pm_fast/boot.py)
import_msgspec_lean()  # and msgspec (ibid.)

from .cli import main  # noqa: E402

raise SystemExit(main())
