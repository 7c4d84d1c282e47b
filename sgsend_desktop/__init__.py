"""SGraph Send Desktop: zero-knowledge encrypted file sending."""

import sys
import types

__version__ = "0.1.0"

# httpx imports its command-line tool (httpx._main: click, rich, pygments) whenever those happen to be
# installed: ~6 MB of memory and ~0.1 s at every start of `sgsend` and the app, for a tool we never run.
# A stand-in is registered before httpx is first imported.
if "httpx" not in sys.modules:
    _cli = types.ModuleType("httpx._main")
    _cli.main = lambda: None  # type: ignore[attr-defined]
    sys.modules.setdefault("httpx._main", _cli)
