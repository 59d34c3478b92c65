"""The one shape in which long work (code-set builds, embedding, indexing, X12 imports) reports progress.

``progress(what, done, total)``: ``what`` names the step ("Indexing", a file name), ``done`` and ``total``
count its units (``total`` 0 while unknown). The data layer calls it; the command line draws it
(`integrations/cli/progress.py`). A step may be reported many times; the last call wins.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
