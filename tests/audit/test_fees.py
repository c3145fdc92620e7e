"""--fee-schedule: the two CMS PFS CSV layouts (made-up amounts), modifiers 50 and 26, and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.batch.fees import FeeSchedule, FeeScheduleError

LOOKUP = Path(__file__).parent / "fee-schedule.csv"


def test_lookup_tool_layout():
    fees = FeeSchedule.read(LOOKUP)
    assert fees.amount("32555", [], 1, facility=False) == 300.0
    assert fees.amount("32555", ["RT"], 1, facility=True) == 150.0
    assert fees.amount("32555", ["50"], 1, facility=True) == 225.0  # bilateral: 150%
    assert fees.amount("76604", ["26"], 1, facility=True) == 30.0  # its own row
    assert fees.amount("49083", [], 2, facility=False) == 560.0
    assert fees.amount("99999", [], 1, facility=False) is None


def test_relative_value_file_layout(tmp_path):
    path = tmp_path / "PPRRVU.csv"
    path.write_text(
        "Made-up relative value file for a test\nRELEASED (not really)\n"
        "HCPCS,MOD,DESCRIPTION,NON-FAC TOTAL,FACILITY TOTAL,CONV FACTOR\n"
        "32555,,(paraphrase),5.00,3.00,32.0\n", encoding="utf-8")
    fees = FeeSchedule.read(path)
    assert fees.amount("32555", [], 1, facility=False) == 160.0
    assert fees.amount("32555", [], 1, facility=True) == 96.0


@pytest.mark.parametrize("text", [
    "CODE,PRICE\n32555,1\n", "HCPCS,MOD\n32555,\n", "HCPCS,NON-FACILITY PRICE,FACILITY PRICE\n",
])
def test_unusable_files_are_named(tmp_path, text):
    path = tmp_path / "fees.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FeeScheduleError, match="fees.csv"):
        FeeSchedule.read(path)
