"""Prefetch resolution: one code path for prefetched and fetched data, with an explicit outcome per key.

- key present with data      -> PROVIDED (paging links of a prefetched Bundle are followed if a server is known)
- key present with null      -> NULL: the client looked and found nothing; never refetched
- key is an OperationOutcome -> the client's fetch failed: fetch it ourselves
- key absent                 -> fetch it from fhirServer
- cannot be had              -> UNAVAILABLE; a required key makes the call end in 412
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import requests

from ..auth.fhir_trust import check_fhir_server
from ..config import Settings
from ..protocol.errors import ServiceError
from ..services import PrefetchSpec, ServiceDefinition
from .client import FetchError, FhirClient, entry_resources, next_link
from .shape import invalid_reason, is_fhir_id

_TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")
# `{{today()}}`, `{{today() - 30 days}}`: the date arithmetic of CDS Hooks prefetch tokens, as a UTC date.
_TODAY = re.compile(r"\{\{\s*today\(\)\s*(?:([+-])\s*(\d{1,4})\s*days?\s*)?\}\}")
# The patient's Procedures of earlier encounters, read after the prefetch when the rules need them (a course of
# daily treatments that may have started in another encounter). Kept apart from the encounter's data.
HISTORY_KEY = "procedureHistory"
_BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")
# Reads of Conditions cited by reasonReference and found nowhere in the call, at most this many per call.
MAX_CITED_READS = 20
CITING_TYPES = ("Procedure", "ServiceRequest")


class Outcome(StrEnum):
    PROVIDED = "provided"
    NULL = "null"
    FETCHED = "fetched"
    UNAVAILABLE = "unavailable"


@dataclass
class KeyResult:
    key: str
    outcome: Outcome
    resources: list[dict] = field(default_factory=list)
    problem: str | None = None


@dataclass
class ClinicalData:
    """The resources of a hook call, checked, with what could not be read or was skipped."""

    results: dict[str, KeyResult]
    # Resources from the request context (draft orders, the note being signed).
    context_resources: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # When the FHIR time budget of the call ends (time.monotonic()); a follow-up read shares it.
    deadline: float | None = None

    def __post_init__(self) -> None:
        self._by_type: dict[str, list[dict]] = {}
        self.history: list[dict] = []  # checked Procedures of HISTORY_KEY
        seen: set[tuple[str, str]] = set()
        for resource in self._all():
            self._add(resource, self._by_type, seen)
        if HISTORY_KEY in self.results:
            self._add_history(self.results[HISTORY_KEY])

    def _add(self, resource: dict, into: dict[str, list[dict]], seen: set[tuple[str, str]]) -> None:
        reason = invalid_reason(resource)
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if reason:
            label = f"{rtype}/{resource.get('id')}" if isinstance(rtype, str) else "a resource"
            self.skipped.append(f"{label}: {reason}")
            return
        rid = resource.get("id")
        if isinstance(rid, str):
            if (rtype, rid) in seen:
                return
            seen.add((rtype, rid))
        into.setdefault(rtype, []).append(resource)

    def _add_history(self, result: KeyResult) -> None:
        found: dict[str, list[dict]] = {}
        seen = {("Procedure", r.get("id")) for r in self.of_type("Procedure")}
        for resource in result.resources:
            self._add(resource, found, seen)
        self.history.extend(found.get("Procedure", []))

    def add_history(self, result: KeyResult) -> None:
        """The result of the follow-up read of earlier Procedures (HISTORY_KEY)."""
        self.results[result.key] = result
        self._add_history(result)

    def _all(self):
        yield from self.context_resources
        for key, result in self.results.items():
            if key != HISTORY_KEY:
                yield from result.resources

    def of_type(self, resource_type: str) -> list[dict]:
        return self._by_type.get(resource_type, [])

    @property
    def unread(self) -> list[KeyResult]:
        return [r for r in self.results.values() if r.outcome is Outcome.UNAVAILABLE]


def fill_template(template: str, context: dict) -> str | None:
    """Replace {{context.x}} tokens; None when a token has no FHIR id (or `Type/id`) in the context."""
    missing = False

    def substitute(match: re.Match) -> str:
        nonlocal missing
        value = context.get(match.group(1))
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            missing = True
            return ""
        text = str(value)
        # patientId may be given as "Patient/123"; queries want the bare id.
        text = text.split("/")[-1] if "/" in text else text
        # Only a FHIR id goes into a query: '#', '&', '?' or '..' would read other data than the template says.
        if not is_fhir_id(text) or text in (".", ".."):
            missing = True
            return ""
        return text

    filled = _TOKEN.sub(substitute, template)
    if "today(" in filled:
        filled = _TODAY.sub(_today, filled)
    return None if missing else filled


def _today(match: re.Match) -> str:
    sign, days = match.group(1), int(match.group(2) or 0)
    today = datetime.now(UTC).date()
    return (today - timedelta(days=days) if sign == "-" else today + timedelta(days=days)).isoformat()


def query_for(spec: PrefetchSpec, context: dict) -> str | None:
    query = fill_template(spec.template, context)
    if query is None and spec.fallback:
        query = fill_template(spec.fallback, context)
    return query


def _target(reference: object) -> tuple[str, str] | None:
    """(`Condition/id`, what to read) for a reference to a Condition, relative or absolute; else None."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    target = reference["reference"].split("/_history/")[0].rstrip("/")
    parts = target.split("/")
    if len(parts) < 2 or parts[-2] != "Condition" or not is_fhir_id(parts[-1]):
        return None  # a contained (#id) or urn reference, or another type: nothing to read
    return f"Condition/{parts[-1]}", target


def cited_conditions(context_resources: list[dict], results: dict[str, KeyResult]) -> dict[str, str]:
    """Conditions that Procedures and ServiceRequests name in reasonReference but that the call does not hold
    (a problem-list entry outside the encounter's search): `Condition/id` -> what to read (relative, or the
    absolute URL, which the client reads only on its own server)."""
    resources = [*context_resources, *(r for result in results.values() for r in result.resources)]
    held = {f"Condition/{r.get('id')}" for r in resources
            if isinstance(r, dict) and r.get("resourceType") == "Condition"}
    wanted: dict[str, str] = {}
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("resourceType") not in CITING_TYPES:
            continue
        references = resource.get("reasonReference")
        for reference in references if isinstance(references, list) else ():
            found = _target(reference)
            if found and found[0] not in held and len(wanted) < MAX_CITED_READS:
                wanted.setdefault(*found)
    return wanted


def _resources_of(value: dict) -> list[dict]:
    if value.get("resourceType") == "Bundle":
        return entry_resources(value)
    return [value]


def _is_outcome(value: object) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


class FhirAccess:
    """Resolves the prefetch of one hook call. Owns nothing per call: the session and pool are shared."""

    def __init__(self, settings: Settings, session: requests.Session, executor: ThreadPoolExecutor):
        self.settings = settings
        self.session = session
        self.executor = executor

    def client_for(self, call: dict, deadline: float) -> FhirClient | None:
        server = call.get("fhirServer")
        if not server:
            return None
        check_fhir_server(self.settings, server)  # before any outbound request: 403 when not allowed
        auth = call.get("fhirAuthorization") or {}
        token = auth.get("access_token")
        if isinstance(token, str) and not _BEARER_TOKEN.fullmatch(token):
            # It goes into an HTTP header: only visible ASCII can (RFC 6750 b64token is a subset).
            raise ServiceError(
                400, "fhirAuthorization.access_token must be visible ASCII", expression="fhirAuthorization.access_token"
            )
        return FhirClient(
            session=self.session,
            base_url=server,
            access_token=auth.get("access_token"),
            deadline=deadline,
            request_timeout=self.settings.fhir_request_timeout,
            max_bytes=self.settings.fhir_max_response_bytes,
            max_pages=self.settings.fhir_max_pages,
        )

    def resolve(self, service: ServiceDefinition, call: dict, context_resources: list[dict]) -> ClinicalData:
        deadline = time.monotonic() + self.settings.fhir_time_budget
        prefetch = call.get("prefetch") or {}
        context = call.get("context") or {}
        try:
            client = self.client_for(call, deadline)
        except FetchError as exc:
            raise ServiceError(400, str(exc), expression="fhirServer") from None

        results: dict[str, KeyResult] = {}
        pending: dict[str, tuple[str, str]] = {}  # key -> (query, kind)
        for spec in service.prefetch:
            value = prefetch.get(spec.key, ...)
            query = query_for(spec, context)
            unfillable = spec.fallback is not None and fill_template(spec.template, context) is None
            if unfillable and value is not None and value is not ...:
                # The client filled a template whose tokens the context cannot fill: the CDS Hooks sandbox sends
                # `encounter={{context.encounterId}}` as it is and prefetches an empty search. Read the fallback.
                value = ...
            kind = "search" if query and "?" in query else "read"
            if value is None:
                results[spec.key] = KeyResult(spec.key, Outcome.NULL)
            elif value is not ... and not _is_outcome(value):
                results[spec.key] = KeyResult(spec.key, Outcome.PROVIDED, _resources_of(value))
                more = next_link(value) if value.get("resourceType") == "Bundle" else None
                if more:
                    pending[spec.key] = (more, "page")
            elif query is None:
                # A template whose tokens the context cannot fill (an encounter read with no encounterId).
                results[spec.key] = KeyResult(spec.key, Outcome.NULL)
            else:
                pending[spec.key] = (query, kind)

        if pending:
            self._fetch_all(pending, results, client)

        cited = cited_conditions(context_resources, results)
        if cited:  # a second round, within the same time budget
            self._fetch_all({f"{key} (reasonReference)": (target, "read") for key, target in cited.items()},
                            results, client)

        for spec in service.prefetch:
            result = results[spec.key]
            if result.outcome is Outcome.UNAVAILABLE and spec.required:
                raise ServiceError(
                    412,
                    f"required data '{spec.key}' was neither prefetched nor readable from the FHIR server: "
                    f"{result.problem}",
                    expression=f"prefetch.{spec.key}",
                )
        return ClinicalData(results=results, context_resources=context_resources, deadline=deadline)

    def read_history(self, call: dict, data: ClinicalData, query: str) -> None:
        """A follow-up search the rules asked for (HISTORY_KEY), under what is left of the call's time budget;
        optional: when it cannot be read, the cards name it."""
        deadline = data.deadline if data.deadline is not None else time.monotonic() + self.settings.fhir_time_budget
        try:
            client = self.client_for(call, deadline)
        except FetchError as exc:
            client = None
            data.skipped.append(f"{HISTORY_KEY}: {exc}")
        results: dict[str, KeyResult] = {}
        self._fetch_all({HISTORY_KEY: (query, "search")}, results, client)
        result = results[HISTORY_KEY]
        if result.outcome is Outcome.UNAVAILABLE:
            result.problem = f"earlier encounters could not be checked ({result.problem})"
        data.add_history(result)

    def _fetch_all(self, pending: dict[str, tuple[str, str]], results: dict, client: FhirClient | None) -> None:
        if client is None:
            for key, _ in pending.items():
                results[key] = KeyResult(key, Outcome.UNAVAILABLE, problem="no prefetch and no FHIR server")
            return

        def fetch(query: str, kind: str) -> list[dict]:
            if kind == "read":
                found = client.read(query)
                return [found] if found else []
            return client.search(query)

        futures = {key: self.executor.submit(fetch, q, kind) for key, (q, kind) in pending.items()}
        for key, future in futures.items():
            try:
                remaining = max(0.05, client.deadline - time.monotonic() + 0.5)
                fetched = future.result(timeout=remaining)
            except FetchError as exc:
                results[key] = KeyResult(key, Outcome.UNAVAILABLE, problem=str(exc))
                continue
            except TimeoutError:
                results[key] = KeyResult(key, Outcome.UNAVAILABLE, problem="the FHIR server did not answer in time")
                continue
            previous = results.get(key)
            if previous is not None and previous.outcome is Outcome.PROVIDED:
                previous.resources.extend(fetched)  # further pages of a prefetched Bundle
            else:
                results[key] = KeyResult(key, Outcome.FETCHED, fetched)
