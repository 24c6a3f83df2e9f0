"""A continuation on its own thread: steps delivered to the GUI thread as they are made.

`GenerationRunner.start` opens the decoder, reads its weights layer by layer,
runs the prompt and then `selfattn.generate.iter_generate` on a Python thread
(not the window's `Background`: a long run must not hold up opening files).
Every answer carries the run's number, so answers of a run that was stopped
and replaced are dropped. `stop` sets a flag the thread checks after every layer
of every pass (and between steps), so a run ends within one layer's work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from selfattn.generate import (
    AttentionPick,
    DecoderStepper,
    StepOutput,
    check_room,
    iter_generate,
    model_eos_ids,
    open_model,
    prompt_ids,
)
from selfattn.models.decoder_tokenizer import DecoderTokenizer
from selfattn.sampling import Sampling

TOP = 10  # alternatives kept per step: the bar chart's bars


class Stopped(Exception):
    """Raised inside the run's thread when the person pressed Stop."""


@dataclass(frozen=True)
class RunSettings:
    """What to generate: model (None = the bundled SmolLM2), prompt and how to choose."""

    model: Path | None
    text: str
    chat: bool
    max_new_tokens: int
    sampling: Sampling | None  # None: greedy


@dataclass(frozen=True)
class RunStart:
    """The prompt's pass: its tokens and every layer's and head's attention over it."""

    model_path: Path
    model_name: str
    layers: int
    heads: int
    prompt_ids: tuple[int, ...]
    prompt_labels: tuple[str, ...]
    prompt_text: str  # the prompt's ids decoded (with a chat template's markers)
    prompt_attention: np.ndarray  # (layers, heads, n, n)


def token_label(tokenizer: DecoderTokenizer, token_id: int) -> str:
    """A token's label as the decoder presets write it (the vocabulary's spelling)."""
    text = tokenizer.id_to_token(token_id)
    return f"<{token_id}>" if text is None else str(text)


class GenerationRunner(QObject):
    """Starts and stops runs; signals carry (run number, payload)."""

    started = Signal(int, object)  # RunStart, after the prompt's pass
    stepMade = Signal(int, object, str)  # selfattn.generate.Step, its token's label
    finished = Signal(int, str)  # "eos", "limit" or "stopped"
    failed = Signal(int, str)  # the message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._run = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def run(self) -> int:
        """The number of the newest run (answers of older runs are stale)."""
        return self._run

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, settings: RunSettings) -> int:
        """Stop any run, start a new one; returns its number."""
        self.stop()
        self._run += 1
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._work,
            args=(self._run, settings, self._stop),
            name=f"selfattn-generate-{self._run}",
            daemon=True,
        )
        self._thread.start()
        return self._run

    def stop(self) -> None:
        """Ask the running thread to end (it does after the layer it is in)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread (shutdown, tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self, run: int, settings: RunSettings, stop: threading.Event) -> None:
        def check(*_: object) -> None:
            if stop.is_set():
                raise Stopped

        try:
            model = open_model(settings.model)
            c = model.config
            for number in range(1, c.n_layers + 1):  # the weights, stoppably, before any pass
                check()
                model.layer(number)
            check()
            ids = prompt_ids(model, settings.text, chat=settings.chat)
            check_room(model, len(ids), settings.max_new_tokens, keep_attention=True)
            labels = tuple(token_label(model.tokenizer, i) for i in ids)

            def on_prompt(out: StepOutput) -> None:
                assert out.attention is not None  # the stepper keeps every layer and head
                start = RunStart(
                    model_path=model.path,
                    model_name=model.display_name,
                    layers=c.n_layers,
                    heads=c.n_heads,
                    prompt_ids=tuple(ids),
                    prompt_labels=labels,
                    prompt_text=model.tokenizer.decode(list(ids)),
                    prompt_attention=out.attention,
                )
                self.started.emit(run, start)

            stepper = DecoderStepper(model, AttentionPick(), on_layer=check)
            eos = model_eos_ids(model)
            reason = "limit"
            for step in iter_generate(
                stepper,
                ids,
                decode=model.tokenizer.decode,
                max_new_tokens=settings.max_new_tokens,
                eos_ids=eos,
                sampling=settings.sampling,
                top=TOP,
                keep_attention=True,
                on_prompt=on_prompt,
            ):
                self.stepMade.emit(run, step, token_label(model.tokenizer, step.token_id))
                if step.token_id in eos:
                    reason = "eos"
                check()
        except Stopped:
            reason = "stopped"
        except Exception as exc:  # one message for the panel; the window stays usable
            self.failed.emit(run, str(exc) or type(exc).__name__)
            return
        self.finished.emit(run, reason)
