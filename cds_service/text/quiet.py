"""Silence the NLP libraries' own logging: PyRuSH (loaded by medspaCy) logs token text through loguru at
DEBUG, and spaCy/medspaCy use the standard library. Note text must never reach a log."""

from __future__ import annotations

import logging
import warnings

LIBRARY_LOGGERS = ("spacy", "medspacy", "PyRuSH", "PyFastNER", "thinc")


def silence_libraries() -> None:
    # medspaCy's ConText and sectionizer keep an empty token matcher beside our phrase rules; spaCy warns about it
    # on every document (W036). Nothing is wrong, and the warning is noise in every worker's stderr.
    warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)
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
