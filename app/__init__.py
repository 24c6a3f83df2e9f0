"""The desktop program: PySide6 views over the numpy model in `selfattn`.

Data flows one way: a view asks for an edit (app/commands.py) -> the document
(app/document.py) makes it an undo step and emits `changed` -> the recompute
(app/recompute.py) computes with selfattn and emits `resultChanged` -> every view
redraws. What the person looks at (mode, head, selected cell) lives in
app/view_state.py; the window (app/main_window.py) only wires the parts together.
docs/DESIGN.md walks through it with the function names.
"""
