#!/usr/bin/env python3
"""``dicomqr`` on the standard asyncio event loop instead of uvloop.

The CLI runs on uvloop when it can import it and has no switch for plain asyncio, so this
wrapper makes ``import uvloop`` fail (``sys.modules["uvloop"] = None``) before calling the
CLI; the CLI then takes its own fallback path, ``asyncio.run``.  Arguments are the CLI's,
e.g. ``serve_asyncio.py serve --port 11112 --archive DIR``.
"""

from __future__ import annotations

import sys

sys.modules["uvloop"] = None  # type: ignore[assignment]

from dicomqr.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
