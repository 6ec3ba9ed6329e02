from .boot import import_asyncio_without_ssl

import_asyncio_without_ssl()  # before anything imports asyncio (pm_fast/boot.py)

from .cli import main  # noqa: E402

raise SystemExit(main())
