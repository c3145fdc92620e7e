"""The response validator itself: it must catch each way a response breaks the spec."""

from __future__ import annotations

import copy

import pytest

from cds_service.protocol.response_check import response_problems

GOOD = {
    "cards": [
        {
            "uuid": "c1",
            "summary": "Bill 32555-RT: ultrasound-guided thoracentesis",
            "indicator": "warning",
            "detail": "why",
            "source": {"label": "Procedure coding", "url": "https://www.cms.gov/ncci"},
            "selectionBehavior": "at-most-one",
            "suggestions": [
                {
                    "label": "Add 32555-RT",
                    "uuid": "s1",
                    "actions": [
                        {"type": "update", "description": "code", "resource": {"resourceType": "Procedure"}},
                        {"type": "delete", "description": "bundled", "resourceId": "ServiceRequest/g1"},
                    ],
                }
            ],
            "overrideReasons": [{"system": "http://x.org/r", "code": "elsewhere", "display": "Documented elsewhere"}],
            "links": [{"label": "NCCI", "url": "https://www.cms.gov/ncci", "type": "absolute"}],
        }
    ]
}


def broken(path: list, value=None, delete: bool = False) -> dict:
    response = copy.deepcopy(GOOD)
    target = response
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return response


def test_good_response_and_empty_cards_pass():
    assert response_problems(GOOD) == []
    assert response_problems({"cards": []}) == []


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (broken(["cards", 0, "detail"], ""), "detail is null or empty"),
        (broken(["cards", 0, "links"], []), "links is null or empty"),
        (broken(["cards", 0, "extension"], {}), "extension is null or empty"),
        (broken(["cards", 0, "summary"], "x" * 140), "under 140"),
        (broken(["cards", 0, "indicator"], "hard-stop"), "indicator"),
        (broken(["cards", 0, "uuid"], delete=True), "uuid is required"),
        (broken(["cards", 0, "selectionBehavior"], delete=True), "selectionBehavior"),
        (broken(["cards", 0, "suggestions", 0, "uuid"], delete=True), "suggestions[0].uuid"),
        (broken(["cards", 0, "overrideReasons", 0, "display"], delete=True), "display is required"),
        (broken(["cards", 0, "source", "url"], "/relative"), "absolute URL"),
        (broken(["cards", 0, "suggestions", 0, "actions", 1, "resourceId"], delete=True), "resourceId"),
        (broken(["cards", 0, "links", 0, "type"], "web"), "absolute or smart"),
        (broken(["cards", 0, "source"], None), "null or empty"),
        ({"cards": None}, "'cards' array"),
    ],
)
def test_each_violation_is_reported(response, expected):
    problems = response_problems(response)
    assert any(expected in p for p in problems), problems
