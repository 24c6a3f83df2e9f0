"""A grey veil over a heatmap whose numbers are about to be replaced.

While a new matrix is computed (the model navigator moving to another layer),
the old one stays in place but greyed and with a short note, and the veil takes
the mouse so hovering shows no stale numbers. It follows its parent's size.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QWidget

VEIL_ALPHA = 205  # of 255: the old picture shows through, too faded to read numbers


class StaleVeil(QWidget):
    """Covers its parent with the window colour, mostly opaque, and a centred note."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._host = parent
        self.note = ""
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)  # the veil, not the plot, gets the moves: no hover numbers
        self.hide()
        parent.installEventFilter(self)

    def show_over(self, note: str) -> None:
        self.note = note
        self.setGeometry(self._host.rect())
        self.show()
        self.raise_()
        self.update()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt API name
        # parentWidget(), not self._host: while a view is torn down Qt can call this
        # through a fresh wrapper that has none of the Python attributes
        host = self.parentWidget()
        if host is not None and obj is host and event.type() == QEvent.Type.Resize:
            self.setGeometry(host.rect())
        return False

    def paintEvent(self, _event: QPaintEvent) -> None:  # Qt API name
        painter = QPainter(self)
        veil = QColor(self.palette().color(QPalette.ColorRole.Window))
        veil.setAlpha(VEIL_ALPHA)
        painter.fillRect(self.rect(), veil)
        if self.note:
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.3)
            painter.setFont(font)
            box = painter.fontMetrics().boundingRect(self.note).adjusted(-14, -8, 14, 8)
            box.moveCenter(self.rect().center())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(self.palette().color(QPalette.ColorRole.Mid))
            painter.setBrush(self.palette().color(QPalette.ColorRole.Base))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.note)
        painter.end()
