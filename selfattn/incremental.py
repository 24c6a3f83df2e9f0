"""Incremental attention: after a one-cell edit, recompute only what depends on it.

A cell of X (row r) changes row r of Q, K and V; the scores change in row r and
column r. Row r is recomputed; every other row i only had its logit in column r
change, so its softmax is updated from the row's stored max M_i and exp-sum Z_i:

    Z'_i = (Z_i - e^(a_i - M_i)) e^(M_i - M'_i) + e^(b_i - M'_i),   M'_i = max(M_i, b_i)
    w'_ij = w_ij * Z_i e^(M_i - M'_i) / Z'_i       (j != r)
    C'_i  = factor_i (C_i - w_ir v_r) + w'_ir v'_r

That is O(n*d) arithmetic plus one rescaling pass over the weights, instead of
two O(n*m*d) products and a full softmax. A row falls back to a full O(m)
recompute when the update would cancel: the old logit was the row's maximum, or
its exponential was more than half the row's sum.

RoPE rotates row r of q and k by its own position only, grouped heads read their
key/value head's columns, and a window is a fixed mask: the same row updates apply.
Anything else (options, positions, W_Q, W_K, b_Q, b_K) is recomputed in full.

Ownership is explicit: results are immutable for whoever holds them. The engine
changes arrays in place only after the caller has called `release()`, its word
that nobody reads any result the engine handed out; until then an edit copies the
arrays it changes, so a result someone keeps never changes. Full recomputes reuse
the (H, n, m) buffers of results given back the same way (ResultBuffers).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from .attention import (
    _BLOCK_BYTES,
    _THREAD_MIN_CELLS,
    _THREADS,
    AttentionError,
    AttentionResult,
    ResultBuffers,
    _attention,
    _executor,
    rotate_heads,
)
from .preset import ARRAY_FIELDS, Preset, attention_arguments

EDITABLE = ARRAY_FIELDS
_ARRAYS = AttentionResult.WHOLE_FIELDS + AttentionResult.PER_HEAD_FIELDS
_CANCEL_LIMIT = 0.5  # update a row only while the removed term is at most half its sum


class IncrementalAttention:
    """A preset and its AttentionResult, kept up to date edit by edit."""

    # Below this many score cells (all heads) a full recompute is faster than
    # the bookkeeping of an incremental update; tests set it to 0.
    min_cells = 1 << 15

    def __init__(self, preset: Preset) -> None:
        self._preset = preset
        self._result: AttentionResult | None = None
        self._row_max: np.ndarray | None = None  # (H, n)
        self._row_sum: np.ndarray | None = None  # (H, n)
        self._buffers = ResultBuffers()
        self._released = False  # the caller gave back every result handed out so far
        self.recompute(preset)

    @property
    def preset(self) -> Preset:
        return self._preset

    @property
    def result(self) -> AttentionResult:
        assert self._result is not None
        return self._result

    def release(self) -> None:
        """Give back every result this engine has handed out (and any array taken from one).

        The caller promises that nobody reads them any more, so the next edit may update
        the current result's arrays in place and later recomputes may reuse them. Without
        this call the engine copies what it changes: always safe, a little slower. Each
        new result is lent again until the next `release()`.
        """
        self._released = True

    # Full path ------------------------------------------------------------
    def recompute(self, preset: Preset) -> AttentionResult:
        """Compute everything from scratch (any change other than one cell)."""
        stats: list[np.ndarray] = []
        result = _attention(**attention_arguments(preset), stats=stats, buffers=self._buffers)
        old, released = self._result, self._released
        self._preset = preset
        self._result = result
        self._released = False
        self._row_max, self._row_sum = stats
        if old is not None and released:
            self._buffers.give_back(old)  # the next recompute may overwrite its arrays
        return result

    # Incremental path -----------------------------------------------------
    @np.errstate(over="ignore", invalid="ignore")  # overflow is checked and refused explicitly
    def edit_cell(self, preset_after: Preset, matrix: str, row: int, col: int) -> AttentionResult:
        """The result for `preset_after`, which differs from `.preset` in one cell.

        Falls back to `recompute` when the edit is not a single cell of a known
        matrix, or when no cheaper path exists (W_Q, W_K, b_Q, b_K change a whole
        head's scores, so its softmax must be redone anyway).
        """
        before = self._preset
        r = self.result
        small = r.heads * r.n_queries * r.n_keys < self.min_cells
        del r
        if small or not _one_cell_edit(before, preset_after, matrix, row, col):
            return self._recompute_or_restore(preset_after, before)
        try:
            if matrix == "inputs":
                cross = before.source_inputs is not None
                return self._edit_token(preset_after, row, query=True, key=not cross)
            if matrix == "source_inputs":
                return self._edit_token(preset_after, row, query=False, key=True)
            if matrix in ("w_value", "b_value"):
                return self._edit_values(preset_after)
            if matrix in ("w_output", "b_output"):
                return self._edit_output(preset_after)
        except FloatingPointError:
            pass  # overflowing logits: the full path raises the proper AttentionError
        return self._recompute_or_restore(preset_after, before)

    def _recompute_or_restore(self, preset: Preset, before: Preset) -> AttentionResult:
        """Full recompute; if the new preset is refused, keep the old one's result."""
        try:
            return self.recompute(preset)
        except AttentionError:
            if self._result is None or self._preset is not before:
                self.recompute(before)
            raise

    def _take(self, names: tuple[str, ...]) -> dict[str, Any]:
        """The current result's fields, with writable arrays for `names`.

        Those arrays are the result's own when the caller released it (nobody reads it),
        else copies. The engine drops the old result first: if the update fails half-way,
        `edit_cell` recomputes in full instead of keeping a half-changed result.
        """
        old = self.result
        self._result = None
        parts: dict[str, Any] = {f.name: getattr(old, f.name) for f in fields(old)}
        for name in names:
            a = parts[name]
            if a is None:
                continue
            if self._released and a.base is None:
                a.flags.writeable = True
            else:
                a = np.array(a, copy=True)
            parts[name] = a
        return parts

    def _finish(self, preset: Preset, parts: dict[str, Any]) -> AttentionResult:
        for name in ("q", "k", "v", "q_rot", "k_rot", "context", "output"):
            if parts[name] is not None and not np.isfinite(parts[name]).all():
                raise FloatingPointError(name)  # edit_cell lets the full path refuse it
        for name in _ARRAYS + AttentionResult.ROTATED_FIELDS:
            if parts[name] is not None:
                parts[name].flags.writeable = False
        result = AttentionResult(**parts)
        if self._released:
            self._buffers.claim(result)  # the arrays it took over in place are its own now
        self._preset = preset
        self._result = result
        self._released = False
        return result

    def _edit_output(self, preset: Preset) -> AttentionResult:
        parts = self._take(("output",))
        parts["output"] = self._output(preset, parts["context"])
        return self._finish(preset, parts)

    def _edit_values(self, preset: Preset) -> AttentionResult:
        parts = self._take(("v", "context"))
        dt = np.dtype(parts["dtype"])
        xs = preset.inputs if preset.source_inputs is None else preset.source_inputs
        v = parts["v"]
        v[...] = xs.astype(dt) @ preset.w_value.astype(dt)
        if preset.b_value is not None:
            v += preset.b_value.astype(dt)
        heads, groups, d_v = parts["heads"], parts["kv_heads"], parts["d_v"]
        v_h = v.reshape(v.shape[0], groups, d_v).transpose(1, 0, 2)  # (G, m, d_v)
        if groups != heads:
            v_h = np.repeat(v_h, heads // groups, axis=0)  # (H, m, d_v), as attention does
        np.matmul(parts["weights"], v_h, out=parts["context"])
        parts["output"] = self._output(preset, parts["context"])
        return self._finish(preset, parts)

    def _output(self, preset: Preset, context: np.ndarray) -> np.ndarray:
        dt = context.dtype
        heads, n, d_v = context.shape
        concat = context.transpose(1, 0, 2).reshape(n, heads * d_v)
        out = concat @ preset.w_output.astype(dt) if preset.w_output is not None else concat.copy()
        if preset.b_output is not None:
            out += preset.b_output.astype(dt)
        return out

    def _edit_token(self, preset: Preset, r: int, *, query: bool, key: bool) -> AttentionResult:
        """X row r (query and/or key side) changed."""
        names: tuple[str, ...] = ("scores", "scaled_scores", "weights", "context")
        names += ("q", "q_rot") * query + ("k", "k_rot", "v") * key
        parts = self._take(names)
        dt = np.dtype(parts["dtype"])
        H, d_k, d_v = parts["heads"], parts["d_k"], parts["d_v"]
        group = H // parts["kv_heads"]  # query heads per key/value head
        q, k, v = parts["q"], parts["k"], parts["v"]
        rope = preset.options.rope
        S, L, W, C = parts["scores"], parts["scaled_scores"], parts["weights"], parts["context"]
        n = q.shape[0]
        divisor = dt.type(parts["divisor"])
        visible = parts["mask"]
        alive = ~parts["fully_masked"]
        row_max, row_sum = self._row_max, self._row_sum
        assert row_max is not None and row_sum is not None

        old_v_r = v[r].copy() if key else np.zeros(0, dtype=dt)  # read only when key
        if query:
            q[r] = _row(preset.inputs[r], preset.w_query, preset.b_query, dt)
        if key:
            xs = preset.inputs if preset.source_inputs is None else preset.source_inputs
            k[r] = _row(xs[r], preset.w_key, preset.b_key, dt)
            v[r] = _row(xs[r], preset.w_value, preset.b_value, dt)
        if rope is not None:  # row r alone turns, by its own position
            inv_freq = rope.frequencies(d_k)
            if query:
                pos = parts["positions"][r : r + 1]
                parts["q_rot"][r] = rotate_heads(q[r : r + 1], H, d_k, rope, inv_freq, pos)[0]
            if key:
                pos = parts["key_positions"][r : r + 1]
                g_all = parts["kv_heads"]
                parts["k_rot"][r] = rotate_heads(k[r : r + 1], g_all, d_k, rope, inv_freq, pos)[0]
        qs = q if rope is None else parts["q_rot"]  # what the scores multiply
        ks = k if rope is None else parts["k_rot"]

        for h in range(H):
            g = h // group  # the key/value head this query head reads
            q_h = qs[:, h * d_k : (h + 1) * d_k]
            k_h = ks[:, g * d_k : (g + 1) * d_k]
            v_h = v[:, g * d_v : (g + 1) * d_v]
            redo = np.zeros(n, dtype=bool)  # rows to recompute in full
            if key:
                a = L[h, :, r].copy()  # old logits of column r
                S[h, :, r] = q_h @ k_h[r]
                with np.errstate(over="ignore"):
                    b = S[h, :, r] / divisor
                b[~visible[:, r]] = -np.inf
                L[h, :, r] = b
                upd = visible[:, r] & alive
                if query:
                    upd[r] = False
                M, Z = row_max[h], row_sum[h]
                with np.errstate(over="ignore", invalid="ignore"):
                    e_a = np.exp(a - M)
                    unsafe = upd & ((a >= M) | (e_a > _CANCEL_LIMIT * Z) | ~np.isfinite(b))
                    ok = upd & ~unsafe
                    M2 = np.where(ok, np.maximum(M, b), M)
                    shift = np.exp(M - M2)
                    e_b = np.exp(b - M2)
                    Z2 = np.where(ok, (Z - e_a) * shift + e_b, Z)
                    factor = np.where(ok, Z * shift / Z2, 1.0).astype(dt)
                redo |= unsafe
                w_r_old = W[h, :, r].copy()
                if ok.any():
                    _scale_rows(W[h], factor)
                W[h, ok, r] = (e_b[ok] / Z2[ok]).astype(dt)
                dv = v_h[r]  # the new v_r
                C_h = C[h]
                C_h[ok] = (
                    factor[ok, None]
                    * (C_h[ok] - w_r_old[ok, None] * old_v_r[g * d_v : (g + 1) * d_v])
                    + W[h, ok, r][:, None] * dv
                )
                row_max[h] = M2
                row_sum[h] = Z2
            if query:
                S[h, r] = k_h @ q_h[r]
                with np.errstate(over="ignore"):
                    L[h, r] = S[h, r] / divisor
                L[h, r, ~visible[r]] = -np.inf
                redo[r] = bool(alive[r])
            rows = np.flatnonzero(redo)
            if rows.size:
                self._redo_rows(h, rows, L, W, C, v_h)
        parts["output"] = self._output(preset, C)
        return self._finish(preset, parts)

    def _redo_rows(
        self, h: int, rows: np.ndarray, L: np.ndarray, W: np.ndarray, C: np.ndarray, v_h: np.ndarray
    ) -> None:
        """Full softmax and context for some rows of head h (same steps as attention)."""
        lg = L[h, rows]
        mx = lg.max(axis=1, keepdims=True)
        if not np.isfinite(mx).all():
            # Let the full path raise its AttentionError for overflowing logits.
            raise FloatingPointError("non-finite logits")
        w = np.exp(lg - mx)
        tot = w.sum(axis=1, keepdims=True)
        w /= tot
        if w.dtype == np.float32:
            w[w < np.finfo(np.float32).tiny] = 0
        W[h, rows] = w
        C[h, rows] = w @ v_h
        assert self._row_max is not None and self._row_sum is not None
        self._row_max[h, rows] = mx[:, 0]
        self._row_sum[h, rows] = tot[:, 0]


def _scale_rows(w: np.ndarray, factor: np.ndarray) -> None:
    """w[i, :] *= factor[i] in place; large matrices split over two threads by row blocks."""
    n, m = w.shape
    rows = max(1, _BLOCK_BYTES // max(1, m * w.itemsize))
    blocks = [(r0, min(n, r0 + rows)) for r0 in range(0, n, rows)]

    def scale(part: list[tuple[int, int]]) -> None:
        for r0, r1 in part:
            np.multiply(w[r0:r1], factor[r0:r1, None], out=w[r0:r1])

    if _THREADS < 2 or n * m < _THREAD_MIN_CELLS:
        scale(blocks)
        return
    half = len(blocks) // 2
    other = _executor().submit(scale, blocks[half:])
    scale(blocks[:half])
    other.result()


def _row(x_r: np.ndarray, w: np.ndarray, b: np.ndarray | None, dt: np.dtype) -> np.ndarray:
    out: np.ndarray = x_r.astype(dt) @ w.astype(dt)
    if b is not None:
        out += b.astype(dt)
    return out


def _one_cell_edit(before: Preset, after: Preset, matrix: str, row: int, col: int) -> bool:
    """True if `after` equals `before` except (at most) one cell of `matrix`.

    For X and the source sequence that cell must lie in `row` (the row to update).
    """
    if matrix not in EDITABLE or before.options != after.options:
        return False
    if before.source_positions != after.source_positions:
        return False
    for name in EDITABLE:
        a, b = getattr(before, name), getattr(after, name)
        if a is b:
            continue
        if a is None or b is None or a.shape != b.shape:
            return False
        changed = np.argwhere(a != b)
        if name != matrix:
            if len(changed):
                return False
            continue
        if len(changed) > 1:
            return False
        in_row = 0 <= row < a.shape[0] and (not len(changed) or changed[0][0] == row)
        if name in ("inputs", "source_inputs") and not in_row:
            return False
    return True
