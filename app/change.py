"""What a change of the document is about, so views can update only what moved."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """The payload of every `changed` signal.

    structure: shapes, labels or which parts exist may have changed (views reset).
    matrix/rect: for cell edits, the input matrix and (row, col, rows, cols) edited.
    """

    structure: bool = True
    matrix: str | None = None
    rect: tuple[int, int, int, int] | None = None

    @property
    def one_cell(self) -> bool:
        """A single-cell edit of one input matrix (the incremental engine's cheap case)."""
        return (
            not self.structure
            and self.matrix is not None
            and self.rect is not None
            and self.rect[2:] == (1, 1)
        )
