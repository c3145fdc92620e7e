"""A small FHIR read/search client: pooled connections, one deadline, capped sizes, no redirects.

The access token goes only to the FHIR server named in the request: paging links that point anywhere
else are not followed, and redirects are never followed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from .. import metrics

FHIR_JSON = "application/fhir+json"


class FetchError(Exception):
    """A FHIR read failed; the message is safe to show on a card (no tokens, no PHI).

    `kind` is a fixed word for the metrics (timeout, unreachable, refused, http_error, invalid, error).
    """

    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.kind = kind


def new_session(pool_size: int = 16) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # never route PHI through a proxy picked up from the environment
    return session


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@dataclass
class FhirClient:
    session: requests.Session
    base_url: str
    access_token: str | None
    deadline: float
    request_timeout: float
    max_bytes: int
    max_pages: int

    def __post_init__(self) -> None:
        scheme, _ = _origin(self.base_url)
        if scheme not in ("http", "https"):
            raise FetchError("the FHIR server URL must use http or https")
        self.base_url = self.base_url.rstrip("/") + "/"

    def url_for(self, query: str) -> str:
        return urljoin(self.base_url, query.lstrip("/"))

    def _same_server(self, url: str) -> bool:
        return _origin(url) == _origin(self.base_url) and urlsplit(url).path.startswith(
            urlsplit(self.base_url).path
        )

    def get_json(self, url: str) -> dict:
        started = time.perf_counter()
        outcome = "ok"
        try:
            data = self._get_json(url)
            if not data:
                outcome = "not_found"
            return data
        except FetchError as exc:
            outcome = exc.kind
            raise
        finally:
            metrics.FHIR_FETCHES.labels(outcome).inc()
            metrics.FHIR_LATENCY.labels(outcome).observe(time.perf_counter() - started)

    def _get_json(self, url: str) -> dict:
        if not self._same_server(url):
            raise FetchError("refused a link that leaves the FHIR server")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.01:
            raise FetchError("time budget for FHIR reads used up")
        headers = {"Accept": FHIR_JSON}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        timeout = min(self.request_timeout, remaining)
        try:
            with self.session.get(
                url, headers=headers, timeout=(timeout, timeout), stream=True, allow_redirects=False
            ) as response:
                body = self._read_capped(response)
                status = response.status_code
                content_type = response.headers.get("Content-Type", "")
        except requests.Timeout:
            raise FetchError("the FHIR server did not answer in time", "timeout") from None
        except requests.RequestException as exc:
            raise FetchError(f"the FHIR server could not be reached ({type(exc).__name__})", "unreachable") from None
        except ValueError:  # includes UnicodeError: a URL or header that cannot go on the wire
            raise FetchError("the request to the FHIR server could not be built") from None
        if 300 <= status < 400:
            raise FetchError(f"the FHIR server answered with a redirect ({status}), not followed")
        if status in (401, 403):
            raise FetchError(f"the FHIR server refused access ({status})", "refused")
        if status == 404:
            return {}
        if status >= 400:
            raise FetchError(f"the FHIR server answered {status}", "http_error")
        if "html" in content_type.lower():
            raise FetchError("the FHIR server answered with an HTML page instead of FHIR JSON")
        try:
            data = orjson.loads(body)
        except ValueError:  # orjson's JSONDecodeError: bad JSON, not UTF-8, or nested past 1024 levels
            raise FetchError("the FHIR server answered with malformed JSON", "invalid") from None
        if not isinstance(data, dict):
            raise FetchError("the FHIR server answered with JSON that is not a FHIR resource")
        return data

    def _read_capped(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError("the FHIR server's answer is larger than the configured limit", "too_large")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError("the FHIR server's answer is larger than the configured limit", "too_large")
            if time.monotonic() > self.deadline:
                raise FetchError("the FHIR server did not answer in time", "timeout")
            chunks.append(chunk)
        return b"".join(chunks)

    def read(self, query: str) -> dict | None:
        """A single resource (instance read); None when the server has no such resource."""
        data = self.get_json(self.url_for(query))
        if not data:
            return None
        if data.get("resourceType") == "OperationOutcome":
            raise FetchError("the FHIR server answered with an OperationOutcome")
        return data

    def search(self, query: str) -> list[dict]:
        """All entries of a search, following `next` links up to the page bound."""
        url: str | None = self.url_for(query)
        seen: set[str] = set()
        resources: list[dict] = []
        pages = 0
        while url:
            if url in seen:
                raise FetchError("the FHIR server's paging links loop; the search was not read to its end")
            if pages >= self.max_pages:
                raise FetchError(f"the search has more than {self.max_pages} pages; not all of it was read")
            seen.add(url)
            pages += 1
            bundle = self.get_json(url)
            if bundle.get("resourceType") == "OperationOutcome":
                raise FetchError("the FHIR server answered the search with an OperationOutcome")
            if bundle and bundle.get("resourceType") != "Bundle":
                raise FetchError("the FHIR server answered a search with something other than a Bundle")
            resources.extend(entry_resources(bundle))
            url = next_link(bundle)
        return resources


def entry_resources(bundle: dict) -> list[dict]:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    found = []
    for entry in entries:
        if isinstance(entry, dict):
            search = entry.get("search")
            if isinstance(search, dict) and search.get("mode") == "outcome":
                continue
            resource = entry.get("resource")
            if isinstance(resource, dict):
                found.append(resource)
    return found


def next_link(bundle: dict) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None
