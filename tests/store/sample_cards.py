"""Cards as the coding engine shapes them, with texts that must never reach the audit trail."""

from __future__ import annotations


def coding_card(uuid: str = "c-1", **suggestion) -> dict:
    extension = {
        "subject": "Procedure/p1",
        "lines": [{"code": "32555", "modifiers": ["RT"], "units": 1}],
        "notSeparatelyBillable": ["76942"],
        "documentationGaps": ["fluid-volume"],
        "rule": "pleural/thoracentesis-imaging",
    }
    extension.update(suggestion)
    return {
        "uuid": uuid,
        "summary": "Thoracentesis for Jane Roe",
        "detail": "Note says: 1200 mL removed from the right chest of Jane Roe",
        "indicator": "info",
        "source": {"label": "Procedure coding"},
        "extension": {"cpt-coding.suggestion": extension},
    }
