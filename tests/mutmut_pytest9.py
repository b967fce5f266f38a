"""pytest plugin for `mutmut run` only (loaded by [tool.mutmut] in pyproject.toml).

mutmut 3.8 records which tests reach a function through ``item._nodeid``, which
pytest 9 no longer has; this gives every collected test that attribute back.
"""

from __future__ import annotations


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if not hasattr(item, "_nodeid"):
            item._nodeid = str(item.nodeid)
