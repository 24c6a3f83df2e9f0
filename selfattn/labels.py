"""Column labels of the result matrices: one vocabulary for the window's tables and CSV.

Q has one block of d_k columns per query head, K and V one block per key/value head:
``q1 .. q3`` with one head, ``h2:q1`` (head 2, column 1) with several, ``kv2:k1`` for
the second shared key/value head of a grouped layer. Context is per head (``c1 ..``),
output whole (``o1 ..``). Everything counts from 1, like the window.
"""

from __future__ import annotations


def dim_labels(prefix: str, count: int) -> list[str]:
    """``prefix1 .. prefixN``."""
    return [f"{prefix}{i + 1}" for i in range(count)]


def head_col_labels(prefix: str, heads: int, d: int) -> list[str]:
    """Column names of a per-head block matrix: q1..q3 for one head, h2:q1 with several."""
    if heads == 1:
        return dim_labels(prefix, d)
    return [f"h{h + 1}:{prefix}{i + 1}" for h in range(heads) for i in range(d)]


def kv_col_labels(prefix: str, heads: int, kv_heads: int, d: int) -> list[str]:
    """Column names of a key/value matrix: kv2:k1 when grouped, like the query heads' if not."""
    if kv_heads == heads:
        return head_col_labels(prefix, heads, d)
    return [f"kv{g + 1}:{prefix}{i + 1}" for g in range(kv_heads) for i in range(d)]
