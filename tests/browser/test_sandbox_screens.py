"""The CDS Hooks sandbox's screens with our service, in headless Chromium, against `make demo`'s servers.

The sandbox web app is not on npm, so `sandbox_harness/` reproduces what its screens do (see harness.js): the
page is served from its own loopback origin, reads the demo FHIR server (CORS) and calls the service with
sandbox-shaped ES384 tokens, signed with a test key the service is told to trust for the sandbox's issuer
(the sandbox's own private key is public, but we do not ship it).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.infra.demo import running_demo

from .conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

pytestmark = pytest.mark.browser

HARNESS = Path(__file__).resolve().parent / "sandbox_harness"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
KID = "sandbox-screens-test-key"
CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"


@dataclass
class Screens:
    harness_url: str
    discovery: str
    fhir_url: str
    private_jwk: dict


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Iterator[Screens]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `bash tests/infra/install.sh` (part of `make test`)")
    key = ec.generate_private_key(ec.SECP384R1())
    public = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": KID, "use": "sig", "alg": "ES384"}
    private = {k: v for k, v in ECAlgorithm.to_jwk(key, as_dict=True).items() if k in ("kty", "crv", "x", "y", "d")}
    issuers = tmp_path_factory.mktemp("issuers") / "issuers.json"
    issuer = {"iss": SANDBOX_ISS, "jwks": {"keys": [public]}, "jku": [SANDBOX_JKU]}
    issuers.write_text(json.dumps({"issuers": [issuer]}))
    env = {"CDS_TRUSTED_ISSUERS": str(issuers), "CDS_TRUST_SANDBOX": "0", "CDS_AUTH_REQUIRED": "1"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HARNESS)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with running_demo(env=env) as (fhir_url, service, _patients):
            yield Screens(f"http://127.0.0.1:{server.server_port}/index.html", f"{service.base_url}/cds-services",
                          fhir_url, private)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def chromium(playwright_driver, screens, tmp_path_factory):
    allowed = {urlsplit(url).netloc for url in (screens.harness_url, screens.discovery, screens.fhir_url)}
    outside: list[str] = []
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-sandbox")), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
        headless=True, viewport=VIEWPORT,
    )

    def only_loopback_servers(route):
        if urlsplit(route.request.url).netloc in allowed:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback_servers)
    try:
        yield context
    finally:
        context.close()
    assert outside == [], f"the page tried to reach other hosts: {outside}"


def open_screen(chromium, screens: Screens, errors: list[str], **config):
    page = chromium.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Script errors only: Chromium also logs each failed load (a prefetch the FHIR server refuses) as a console
    # error, as it does for the real sandbox; those are recorded by the harness instead.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    harness = {
        "discovery": screens.discovery, "fhirServer": screens.fhir_url, "userId": "Practitioner/COREPRACTITIONER1",
        "iss": SANDBOX_ISS, "kid": KID, "jku": SANDBOX_JKU, "jwk": screens.private_jwk, **config,
    }
    page.add_init_script(f"window.HARNESS = {json.dumps(harness)};")
    page.goto(screens.harness_url)
    page.wait_for_selector("body[data-round='1']", timeout=20_000)
    return page


def service_calls(page) -> list[dict]:
    return [entry for entry in page.evaluate("window.harnessLog") if "request" in entry]


PAMA_ORDER = {
    "code": {"system": CPT, "code": "32554", "display": "Thoracentesis, ultrasound guided"},
    "reasons": [{"system": SNOMED, "code": "60046008", "display": "Pleural effusion"}],
}


def test_patient_view_screen_shows_our_cards_and_takes_a_suggestion(chromium, screens):
    errors: list[str] = []
    page = open_screen(chromium, screens, errors, screen="patient-view", hook="patient-view",
                       patientId="demo-thoracentesis-undocumented")

    assert page.locator("#error-banner").is_hidden()
    assert page.locator("#patient-banner").inner_text().startswith("Patient: ")
    cards = page.locator(".decision-card")
    assert cards.count() == 1
    assert cards.first.get_attribute("class").endswith("alert-warning")
    assert cards.first.locator(".summary").inner_text().startswith("Bill 32554")
    assert "Documentation to complete" in cards.first.locator(".detail").inner_text()
    # Details are rendered with raw HTML on: nothing in ours may become markup beyond the Markdown.
    assert page.locator(".detail script, .detail img, .detail iframe, .detail a").count() == 0
    (call,) = service_calls(page)
    assert call["status"] == 200 and call["request"]["hook"] == "patient-view"
    assert "encounterId" not in call["request"]["context"]
    assert set(call["request"]["prefetch"]) >= {"patient", "procedures", "imagingStudies"}

    cards.first.locator("button.suggestion").click()
    page.wait_for_function("window.harnessLog.some((e) => e.feedback)")
    (feedback,) = [e for e in page.evaluate("window.harnessLog") if "feedback" in e]
    assert feedback["status"] == 200
    assert errors == []


def test_a_chart_in_order_shows_no_cards(chromium, screens):
    errors: list[str] = []
    page = open_screen(chromium, screens, errors, screen="patient-view", hook="patient-view",
                       patientId="demo-not-done-declined")
    assert page.locator("#cards").inner_text() == "No Cards"
    assert page.locator("#error-banner").is_hidden()
    assert errors == []


def test_imaging_screen_calls_order_select_as_order_sign_and_takes_the_rating(chromium, screens):
    errors: list[str] = []
    page = open_screen(chromium, screens, errors, screen="pama", hook="order-sign",
                       patientId="demo-thoracentesis-us-guided", order=PAMA_ORDER)

    assert page.locator("#error-banner").is_hidden()
    (call,) = service_calls(page)
    assert call["url"].endswith("/procedure-coding-order-select") and call["request"]["hook"] == "order-sign"
    assert call["status"] == 200
    assert call["request"]["prefetch"]["conditions"].get("entry", []) == []
    (coding,) = [c["extension"]["cpt-coding.suggestion"] for c in call["cards"]]
    # The sandbox prefetched `conditions` from our encounter-scoped template with the token left in (an empty
    # search); the service read the patient's conditions itself, so the J90 effusion supports the order.
    assert "indication" not in coding.get("documentationGaps", [])
    card = page.locator(".decision-card").first
    assert card.get_attribute("class").endswith("alert-info")  # order-select previews at info level
    assert "32555" in card.locator(".summary").inner_text()

    card.locator("button.suggestion").click()
    page.wait_for_selector("body[data-round='2']", timeout=20_000)
    assert page.locator("#rating").inner_text() == "no-criteria-apply"
    second = service_calls(page)[-1]
    (order,) = [e["resource"] for e in second["request"]["context"]["draftOrders"]["entry"]]
    assert order["code"]["coding"][0]["code"] == "32555"  # the suggested code is now the order's
    assert page.locator("#error-banner").is_hidden()
    assert errors == []


def test_without_the_rating_the_imaging_screen_raises_the_page_error(chromium, screens):
    """The harness would catch the bug the issue reports: strip the rating from our answer, click, and the
    screen throws as the real one did."""
    errors: list[str] = []

    def strip_ratings(route):
        response = route.fetch()
        body = response.json()
        for card in body["cards"]:
            for suggestion in card.get("suggestions", []):
                for action in suggestion["actions"]:
                    action.get("resource", {}).pop("extension", None)
        route.fulfill(response=response, json=body)

    page = chromium.new_page()
    page.route("**/cds-services/procedure-coding-order-select", strip_ratings)
    page.on("pageerror", lambda error: errors.append(str(error)))
    harness = {
        "discovery": screens.discovery, "fhirServer": screens.fhir_url, "userId": "Practitioner/COREPRACTITIONER1",
        "iss": SANDBOX_ISS, "kid": KID, "jku": SANDBOX_JKU, "jwk": screens.private_jwk, "screen": "pama",
        "hook": "order-sign", "patientId": "demo-thoracentesis-us-guided", "order": PAMA_ORDER,
    }
    page.add_init_script(f"window.HARNESS = {json.dumps(harness)};")
    page.goto(screens.harness_url)
    page.wait_for_selector("body[data-round='1']", timeout=20_000)
    page.locator(".decision-card button.suggestion").first.click()
    page.wait_for_timeout(500)
    assert any("Cannot destructure property 'rating'" in error for error in errors), errors
