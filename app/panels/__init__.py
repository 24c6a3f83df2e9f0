"""The window's docks: Inputs (what a person types), Options, Results (read-only tables)
and Explain (the arithmetic of one cell). Each reads the document, the recompute or the
view state and sends its edits through app/commands.py; none stores numbers of its own."""
