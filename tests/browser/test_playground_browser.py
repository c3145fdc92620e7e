"""End to end in headless Chromium: the playground served by the real service (gunicorn), real hook calls,
cards rendered as an EHR would, and feedback stored by the service."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from cds_service.store.records import SUGGESTION_EXTENSION

pytestmark = pytest.mark.browser

SEVERITY = {"critical": 0, "warning": 1, "info": 2}

# What each rendered card shows: read from the DOM only (data attributes set by cards.js).
READ_CARDS = """cards => cards.map(card => ({
  indicator: card.dataset.indicator,
  uuid: card.dataset.cardUuid || null,
  summary: card.querySelector('.card__summary').textContent,
  lines: [...card.querySelectorAll('tr.coding__line')].map(row => ({
    code: row.dataset.code,
    modifiers: row.dataset.modifiers ? row.dataset.modifiers.split(',') : [],
  })),
  bundled: [...card.querySelectorAll('.coding__bundled li')].map(item => item.dataset.code),
  gaps: [...card.querySelectorAll('li.coding__gap')].map(item => item.dataset.gap),
  suggestions: [...card.querySelectorAll('button.suggestion')].map(button => button.dataset.suggestionUuid),
}))"""


@dataclass(frozen=True)
class Expected:
    service: str
    code: str
    modifier: str | None = None
    bundled: str | None = None
    gap: str | None = None


# Facts from the coding rules that the rendered cards must show (docs: /work/shared/reference, README).
SCENARIOS = {
    "thoracentesis-us-guided.note-sign": Expected("procedure-coding-note-sign", "32555", modifier="RT"),
    "thoracentesis-no-images.note-sign": Expected("procedure-coding-note-sign", "32554", gap="saved-images"),
    "thoracentesis-bilateral.encounter-discharge": Expected(
        "procedure-coding-encounter-discharge", "32555", modifier="50", bundled="76942"
    ),
    "paracentesis-us-guided.encounter-discharge": Expected("procedure-coding-encounter-discharge", "49083"),
    "thoracentesis-with-guidance-order.order-sign": Expected(
        "procedure-coding-order-sign", "32555", modifier="RT", bundled="76942"
    ),
}


def open_scenario(page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/playground?scenario={name}")
    page.wait_for_selector("body[data-ready='true']")


def send(page, service_id: str) -> dict:
    """Click Send; returns the JSON the service answered the page with, once the page has rendered it."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/cds-services/{service_id}")
    ) as answer:
        page.click("#send")
    page.wait_for_selector("#status:not([data-kind='info'])")
    return answer.value.json()


def rendered_cards(page) -> list[dict]:
    return page.eval_on_selector_all("#cards article.card", READ_CARDS)


def expected_cards(response: dict) -> list[dict]:
    """The same view computed from the service's JSON: most severe first, as an EHR lists them."""
    cards = sorted(response["cards"], key=lambda card: SEVERITY[card["indicator"]])
    out = []
    for card in cards:
        coding = (card.get("extension") or {}).get(SUGGESTION_EXTENSION) or {}
        out.append({
            "indicator": card["indicator"],
            "uuid": card.get("uuid"),
            "summary": card["summary"],
            "lines": [
                {"code": line["code"], "modifiers": line.get("modifiers", [])} for line in coding.get("lines", [])
            ],
            "bundled": coding.get("notSeparatelyBillable", []),
            "gaps": coding.get("documentationGaps", []),
            "suggestions": [suggestion.get("uuid") for suggestion in card.get("suggestions", [])],
        })
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_cards_show_codes_modifiers_and_gaps(page, playground_service, name):
    expected = SCENARIOS[name]
    open_scenario(page, playground_service.base_url, name)
    assert page.input_value("#service") == expected.service
    assert json.loads(page.input_value("#request"))["context"]["patientId"]

    response = send(page, expected.service)
    shown = rendered_cards(page)

    assert shown == expected_cards(response)
    lines = [line for card in shown for line in card["lines"]]
    assert expected.code in [line["code"] for line in lines]
    if expected.modifier:
        assert expected.modifier in [m for line in lines if line["code"] == expected.code for m in line["modifiers"]]
    if expected.bundled:
        assert expected.bundled in [code for card in shown for code in card["bundled"]]
    if expected.gap:
        assert expected.gap in [gap for card in shown for gap in card["gaps"]]
    assert "answered 200" in page.inner_text("#status")
    assert json.loads(page.inner_text("#response").split("\n", 1)[1]) == response


def test_order_select_is_the_order_sign_coding_as_an_info_preview(page, playground_service):
    """Switching the service to order-select rewrites the request (hook, selections) and gets info cards
    with the same coding as order-sign."""
    open_scenario(page, playground_service.base_url, "thoracentesis-with-guidance-order.order-sign")
    signed = expected_cards(send(page, "procedure-coding-order-sign"))

    page.select_option("#service", "procedure-coding-order-select")
    request = json.loads(page.input_value("#request"))
    assert request["hook"] == "order-select"
    assert request["context"]["selections"] == ["ServiceRequest/sr-1", "ServiceRequest/sr-guidance"]
    previewed = expected_cards(send(page, "procedure-coding-order-select"))
    shown = rendered_cards(page)

    assert shown == previewed
    assert {card["indicator"] for card in shown} == {"info"}
    assert [(c["lines"], c["bundled"]) for c in shown] == [(c["lines"], c["bundled"]) for c in signed]


def test_clicking_a_suggestion_stores_accepted_feedback(page, playground_service):
    open_scenario(page, playground_service.base_url, "thoracentesis-with-guidance-order.order-sign")
    send(page, "procedure-coding-order-sign")
    card = page.locator("article.card", has=page.locator("button.suggestion")).first
    card_uuid = card.get_attribute("data-card-uuid")
    suggestion_uuid = card.locator("button.suggestion").first.get_attribute("data-suggestion-uuid")

    card.locator("button.suggestion").first.click()
    card.locator(".card__feedback[data-outcome='accepted']").wait_for()

    stored = [item for item in playground_service.stored_feedback() if item.card == card_uuid]
    assert [(item.outcome, item.accepted_suggestions) for item in stored] == [("accepted", (suggestion_uuid,))]
    assert card.locator("button.suggestion").first.get_attribute("aria-pressed") == "true"
    assert "stored" in page.inner_text("#status")
    sent = page.inner_text("#feedback-exchange")
    assert "procedure-coding-order-sign/feedback" in sent and "200" in sent


def test_dismiss_menu_works_from_the_keyboard_and_stores_the_override_reason(page, playground_service):
    open_scenario(page, playground_service.base_url, "thoracentesis-no-images.note-sign")
    response = send(page, "procedure-coding-note-sign")
    first = sorted(response["cards"], key=lambda c: SEVERITY[c["indicator"]])[0]
    reasons = first["overrideReasons"]
    card = page.locator("article.card").first
    button = card.locator(".dismiss__button")
    menu = card.locator("[role='menu']")
    active_text = "() => document.activeElement.textContent"

    button.focus()
    page.keyboard.press("Enter")
    assert menu.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert page.evaluate(active_text) == reasons[0]["display"]
    page.keyboard.press("ArrowDown")
    assert page.evaluate(active_text) == reasons[1]["display"]
    page.keyboard.press("Escape")
    assert not menu.is_visible() and page.evaluate("() => document.activeElement.classList.contains('dismiss__button')")

    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    card.locator(".card__feedback[data-outcome='overridden']").wait_for()

    assert "card--dismissed" in card.get_attribute("class")
    stored = [item for item in playground_service.stored_feedback() if item.card == first["uuid"]]
    assert [(item.outcome, item.reason_system, item.reason_code) for item in stored] == [
        ("overridden", reasons[1]["system"], reasons[1]["code"])
    ]
    assert reasons[1]["display"] in page.inner_text("#status")


def test_card_markdown_is_rendered_without_raw_html(page, playground_service):
    open_scenario(page, playground_service.base_url, "")
    source = "\n".join([
        "# Heading",
        "Some **bold** and *italic* text with `code` and a [safe link](https://example.org/a?b=1).",
        "A [script link](javascript:alert(1)) and a [data link](data:text/html,x) stay text.",
        "<script>window.hacked = 1</script> <img src=x onerror=\"window.hacked = 2\"> <b>not bold</b>",
        "",
        "- [x] side documented",
        "- [ ] fluid volume",
        "- plain item with <iframe src=\"//example.org\"></iframe>",
        "",
        "1. first",
        "2. second",
        "",
        "| code | meaning |",
        "|---|---|",
        "| 32555 | <em>guided</em> |",
        "",
        "```",
        "<svg onload=alert(1)>",
        "```",
    ])
    result = page.evaluate(
        """async source => {
          const { renderMarkdown } = await import('/playground/static/markdown.js');
          const box = document.createElement('div');
          box.append(renderMarkdown(source));
          document.body.append(box);
          await new Promise(resolve => setTimeout(resolve, 50));
          const all = [...box.querySelectorAll('*')];
          return {
            tags: [...new Set(all.map(node => node.tagName.toLowerCase()))].sort(),
            handlers: all.flatMap(node => [...node.attributes].map(a => a.name)).filter(n => n.startsWith('on')),
            links: [...box.querySelectorAll('a')].map(a => [a.textContent, a.getAttribute('href'), a.rel]),
            tasks: [...box.querySelectorAll('li.task')].map(li => [li.dataset.done, li.textContent.trim()]),
            text: box.textContent,
            hacked: window.hacked || 0,
          };
        }""",
        source,
    )
    assert result["hacked"] == 0
    assert result["handlers"] == []
    assert set(result["tags"]) <= {"h4", "p", "strong", "em", "code", "a", "ul", "ol", "li", "span", "table",
                                   "thead", "tbody", "tr", "th", "td", "pre"}
    assert {"h4", "strong", "em", "code", "ul", "ol", "table", "pre"} <= set(result["tags"])
    assert result["links"] == [["safe link", "https://example.org/a?b=1", "noopener noreferrer"]]
    assert result["tasks"] == [["true", "☑ side documented"], ["false", "☐ fluid volume"]]
    for literal in ("<script>window.hacked = 1</script>", "<b>not bold</b>", "<em>guided</em>", "<svg onload"):
        assert literal in result["text"]
    assert "script link" in result["text"] and "data link" in result["text"]


CONTRAST = """() => {
  const channels = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = node => {
    for (; node; node = node.parentElement) {
      const c = channels(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const seen = {};
  const selectors = ['body', '.page-header p', '.hint', 'label', '.card__summary', '.badge', '.card__source',
    '.card__source a', '.card__detail', '.coding', '.coding__code', 'button.suggestion', '.dismiss__button',
    '#send', '.status', '.pane__label', '.json', 'textarea', 'select', '.card__feedback'];
  for (const selector of selectors) {
    for (const node of document.querySelectorAll(selector)) {
      if (!node.offsetParent && selector !== 'body') continue;
      const fg = luminance(channels(getComputedStyle(node).color));
      const bg = luminance(background(node));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      seen[selector] = Math.min(seen[selector] ?? 99, ratio);
    }
  }
  return seen;
}"""


def test_page_is_accessible_labels_keyboard_focus_and_contrast(page, playground_service):
    open_scenario(page, playground_service.base_url, "thoracentesis-with-guidance-order.order-sign")
    send(page, "procedure-coding-order-sign")
    page.locator("button.suggestion").first.click()
    page.locator(".card__feedback[data-outcome]").first.wait_for()

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('select, textarea, input')]
             .filter(c => c.labels.length === 0 && !c.getAttribute('aria-label')).map(c => c.outerHTML)"""
    )
    assert unlabelled == []
    nameless = page.evaluate(
        "() => [...document.querySelectorAll('button, a')].filter(b => !b.textContent.trim()).map(b => b.outerHTML)"
    )
    assert nameless == []
    live = page.locator("#status")
    assert live.get_attribute("role") == "status" and live.get_attribute("aria-live") == "polite"

    ratios = page.evaluate(CONTRAST)
    too_low = {selector: round(ratio, 2) for selector, ratio in ratios.items() if ratio < 4.5}
    assert too_low == {}
    assert {".badge", "button.suggestion", ".card__summary", "#send"} <= set(ratios)

    # Keyboard: from the scenario picker, Tab reaches the service picker and the Send button, with a visible ring.
    page.focus("#scenario")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "service"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "send"
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert ring[0] != "none" and float(ring[1].rstrip("px")) >= 2


def test_invalid_json_is_reported_and_not_sent(page, playground_service):
    open_scenario(page, playground_service.base_url, "thoracentesis.order-select")
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.fill("#request", '{"hook": "order-select", ')

    page.click("#send")

    assert page.locator("#request-error").is_visible()
    assert page.get_attribute("#request", "aria-invalid") == "true"
    assert page.get_attribute("#status", "data-kind") == "error"
    assert posts == []


def test_a_refused_call_shows_the_operation_outcome(page, page_errors, playground_service):
    open_scenario(page, playground_service.base_url, "thoracentesis.order-select")
    request = json.loads(page.input_value("#request"))
    del request["context"]["patientId"]
    page.fill("#request", json.dumps(request))

    response = send(page, "procedure-coding-order-select")

    assert response["resourceType"] == "OperationOutcome"
    assert "context.patientId" in page.inner_text("#cards .error")
    assert page.get_attribute("#status", "data-kind") == "error"
    page_errors[:] = [e for e in page_errors if "status of 400" not in e]  # the browser logs the 400 itself
