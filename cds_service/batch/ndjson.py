"""Reading Bulk Data NDJSON files (plain or gzip), line by line, with the file and line number of each."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".json.gz")
GZIP_MAGIC = b"\x1f\x8b"


def input_files(inputs: list[Path]) -> list[Path]:
    """The NDJSON files named, or found (sorted, not recursive) in the folders named."""
    found: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(SUFFIXES)))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return list(dict.fromkeys(found))


class NdjsonReader:
    """Lines of one file; `position` is how far into the file on disk (compressed bytes) reading has got."""

    def __init__(self, path: Path):
        self.path = path
        self._raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        magic = self._raw.read(2)
        self._raw.seek(0)
        self._stream: BinaryIO = gzip.GzipFile(fileobj=self._raw) if magic == GZIP_MAGIC else self._raw

    @property
    def position(self) -> int:
        return self._raw.tell()

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(line number from 1, line without its end) for every non-blank line."""
        for number, line in enumerate(self._stream, start=1):
            line = line.strip()
            if line:
                yield number, line

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> NdjsonReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
