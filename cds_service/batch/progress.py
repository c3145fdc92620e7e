"""Progress of an audit: a rich progress bar on a terminal, quiet JSON lines (at most one a second) otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import orjson


class Progress:
    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, interval: float = 1.0):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self._bar = None
        self._task = None
        self.phase = ""
        self.unit = ""
        self.total: int | None = None
        self.done = 0
        self.note: dict[str, int] = {}  # a second count shown beside the first (resources while reading bytes)
        self._started = self._last = time.monotonic()

    def start(self, phase: str, unit: str, total: int | None, done: int = 0) -> None:
        self.close_phase()
        self.phase, self.unit, self.total, self.done, self.note = phase, unit, total, done, {}
        self._started = self._last = time.monotonic()
        self._base = done
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                            console=_console(self.stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(f"{phase} ({unit})", total=total, completed=done, rate="", note="")
        else:
            self._emit("start")

    def advance(self, count: int, total: int | None = None, **note: int) -> None:
        self.done += count
        if total is not None:
            self.total = total
        for name, value in note.items():
            self.note[name] = self.note.get(name, 0) + value
        now = time.monotonic()
        if self._bar is not None:
            rate = f"{self.rate():,.0f} {self.unit}/s"
            text = ", ".join(f"{value:,} {name}" for name, value in self.note.items())
            self._bar.update(self._task, completed=self.done, total=self.total, rate=rate, note=text)
        elif now - self._last >= self.interval:
            self._emit("progress")

    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return (self.done - self._base) / elapsed if elapsed > 0 else 0.0

    def _emit(self, event: str) -> None:
        rate = self.rate()
        record = {"event": event, "phase": self.phase, "unit": self.unit, "done": self.done, "total": self.total,
                  "rate": round(rate, 1), **self.note}
        if self.total and rate > 0:
            record["etaSeconds"] = round(max(self.total - self.done, 0) / rate, 1)
        self.stream.write(orjson.dumps(record).decode() + "\n")
        self.stream.flush()
        self._last = time.monotonic()

    def close_phase(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.phase:
            self._emit("end")
        self.phase = ""

    def message(self, text: str) -> None:
        if self.tty:
            self.stream.write(text + "\n")
        else:
            self.stream.write(orjson.dumps({"event": "message", "message": text}).decode() + "\n")
        self.stream.flush()


def _console(stream: TextIO):
    from rich.console import Console

    return Console(file=stream)
