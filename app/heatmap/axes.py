"""The token axes: the key axis whose labels can turn 90°, and measuring labels.

Which labels to show is plain arithmetic in ``layout``; this module draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsScene

KEY_TITLE = "key →"  # keys run left to right
QUERY_TITLE = "← query"  # turned 90° up the left side, the arrow points down the queries
MAX_KEY_LABEL_PX = 110  # rotated key labels: the key axis grows at most this tall


class KeyAxis(pg.AxisItem):
    """The top (key) axis; its tick labels can be drawn turned 90°, reading upwards.

    Key labels side by side need a cell as wide as the label; turned, they need only
    a line's height, so every key of an 11-token sentence keeps its label. ``drawn``
    holds the labels of the last paint (for tests).
    """

    def __init__(self) -> None:
        super().__init__("top")
        self.rotated = False
        self.text_room = 0.0  # pixels along a turned label (the axis height minus title)
        self.drawn: list[str] = []

    def set_rotated(self, rotated: bool, text_room: float) -> None:
        if (rotated, text_room) != (self.rotated, self.text_room):
            self.rotated, self.text_room = rotated, text_room
            self.picture = None
            self.update()

    def generateDrawSpecs(self, p: QPainter) -> Any:  # pyqtgraph API name
        """Tick label positions along the axis, every one of ``setTicks``'s first level.

        AxisItem's own version drops a label that pokes past the axis ends (the first
        and last keys' labels are wider than their cells) and re-thins crowded ones;
        the ticks given here are already thinned to fit.
        """
        bounds = self.mapRectFromParent(self.geometry())
        lo, hi = self.range
        axis_spec = (self.pen(), bounds.bottomLeft(), bounds.bottomRight())
        texts: list[tuple[float, str]] = []
        if hi != lo and self._tickLevels and self.style["showValues"]:
            scale = bounds.width() / (hi - lo)
            for value, text in self._tickLevels[0]:
                x = (value - lo) * scale  # the same mapping as AxisItem's
                if -0.5 <= x <= bounds.width() + 0.5:
                    texts.append((x, text))
        self.drawn = [text for _, text in texts]
        return axis_spec, [], texts

    def drawPicture(
        self, p: QPainter, axisSpec: Any, tickSpecs: Any, textSpecs: Any
    ) -> None:  # pyqtgraph API names
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        metrics = QFontMetricsF(p.font())
        h = metrics.height()
        base = self.mapRectFromParent(self.geometry()).bottom() - self.style["tickTextOffset"][1]
        if not self.rotated:  # side by side, centred on the key's column
            align = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom
            end = self.mapRectFromParent(self.geometry()).width()
            for x, text in textSpecs:
                w = metrics.horizontalAdvance(text) + 2
                # the first and last labels stay over the matrix, not over its neighbour
                left = max(0.0, min(x - w / 2, end - w)) if w < end else x - w / 2
                p.drawText(QRectF(left, base - h, w, h), align, text)
            return
        room = max(self.text_room, 1.0)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        for x, text in textSpecs:
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
            p.save()
            p.translate(x, base)
            p.rotate(-90)  # the text runs upwards from just above the matrix
            p.drawText(QRectF(0, -h / 2, room, h), align, shown)
            p.restore()


def widest(metrics: QFontMetricsF, labels: Sequence[str]) -> float:
    """Pixel width of the widest label (measures only the 20 longest by characters)."""
    longest = sorted(labels, key=len, reverse=True)[:20]
    return max((metrics.horizontalAdvance(s) for s in longest), default=0.0)


def follow_application_font(scene: QGraphicsScene, zoom: float) -> None:
    """Axis titles and plot titles in the application font (after a zoom to ``zoom``).

    Tick labels are painted in it already; a title is a text item that keeps the font
    it was made with. The matrix's own layout re-measures its labels on the next redraw.
    """
    font = QFont()
    for item in scene.items():
        if isinstance(item, pg.AxisItem):
            item.label.setFont(font)
            item._updateLabel()  # pyqtgraph: re-measures the title, repaints the axis
        elif isinstance(item, pg.LabelItem):
            item.item.setFont(font)
            points = _label_points_at_100(item)  # a plot title has its own size (11pt)
            if points is not None:
                item.opts["size"] = f"{points * zoom:.1f}pt"
            item.setText(item.text)  # re-measures the title


def _label_points_at_100(item: pg.LabelItem) -> float | None:
    """The point size a label was made with (kept on the item at the first zoom)."""
    if not hasattr(item, "_points_at_100"):
        size = str(item.opts.get("size", ""))
        item._points_at_100 = float(size[:-2]) if size.endswith("pt") else None
    points: float | None = item._points_at_100
    return points
