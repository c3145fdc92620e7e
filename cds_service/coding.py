"""Entry point of the coding engine (evidence -> rules -> cards). Built once at start-up."""

from __future__ import annotations

from .config import Settings
from .fhir.access import ClinicalData
from .services import ServiceDefinition


class CodingEngine:
    def __init__(self, settings: Settings):
        self.settings = settings

    def cards(self, service: ServiceDefinition, call: dict, data: ClinicalData) -> list[dict]:
        return []


def build_coder(settings: Settings) -> CodingEngine:
    return CodingEngine(settings)
