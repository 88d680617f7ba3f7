
# The test modules import their helpers (helpers, workload) as top-level
# modules, which works when unittest starts in tests/; this makes it work
# too when it discovers them from python/ as the package "tests".
import os as _os
import sys as _sys

_here = _os.path.dirname(_os.path.abspath(__file__))
if _here not in _sys.path:
    _sys.path.insert(0, _here)
