"""Silence the NLP libraries' own logging: PyRuSH (loaded by medspaCy) logs token text through loguru at
DEBUG, and spaCy/medspaCy use the standard library. Note text must never reach a log."""

from __future__ import annotations

import logging

LIBRARY_LOGGERS = ("spacy", "medspacy", "PyRuSH", "PyFastNER", "thinc")


def silence_libraries() -> None:
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    try:
        from loguru import logger as loguru_logger
    except ImportError:  # loguru comes with PyRuSH; nothing to silence without it
        return
    for name in ("PyRuSH", "PyFastNER", "medspacy"):
        loguru_logger.disable(name)
