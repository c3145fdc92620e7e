// The playground page: load scenarios, edit the hook request, call this service, show the cards and
// send feedback. Talks only to this service's own origin.

import { renderCards } from "./cards.js";

const $ = (id) => document.getElementById(id);
const form = $("call-form");
const scenarioSelect = $("scenario");
const serviceSelect = $("service");
const requestBox = $("request");
const requestError = $("request-error");
const responseBox = $("response");
const feedbackBox = $("feedback-exchange");
const cardsBox = $("cards");
const status = $("status");
const sendButton = $("send");

// The service whose cards are on screen: feedback goes to it, whatever is selected now.
let shownServiceId = null;

function announce(message, kind = "info") {
  status.textContent = message;
  status.dataset.kind = kind;
}

function newUuid() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  // Pages served over plain http from a non-local host are not a secure context: build a v4 UUID by hand.
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function selectedHook() {
  return serviceSelect.selectedOptions[0]?.dataset.hook || "";
}

function showRequestError(message) {
  requestError.textContent = message;
  requestError.hidden = !message;
  requestBox.setAttribute("aria-invalid", message ? "true" : "false");
}

function parseRequest() {
  try {
    const value = JSON.parse(requestBox.value);
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("the request must be a JSON object");
    showRequestError("");
    return value;
  } catch (error) {
    showRequestError(`The request is not valid JSON: ${error.message}`);
    return null;
  }
}

// order-select needs `selections`; derive them from the draft orders when the request has none.
function adaptToHook(request, hook) {
  request.hook = hook;
  const context = request.context;
  if (hook === "order-select" && context && typeof context === "object" && !Array.isArray(context.selections)) {
    const entries = context.draftOrders?.entry || [];
    const selections = entries
      .map((entry) => entry.resource)
      .filter((resource) => resource && resource.resourceType && resource.id)
      .map((resource) => `${resource.resourceType}/${resource.id}`);
    if (selections.length) context.selections = selections;
  }
  return request;
}

async function readJson(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

function outcomeMessage(body) {
  const issue = body && body.resourceType === "OperationOutcome" && body.issue && body.issue[0];
  return issue ? issue.diagnostics || issue.code : "";
}

async function sendFeedback(serviceId, item) {
  const body = { feedback: [{ ...item, outcomeTimestamp: new Date().toISOString() }] };
  const url = `/cds-services/${encodeURIComponent(serviceId)}/feedback`;
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    feedbackBox.textContent = `POST ${url}\n${pretty(body)}\n\n(no answer: ${error.message})`;
    return { ok: false, message: `Feedback could not be sent: ${error.message}.` };
  }
  const answer = await readJson(response);
  feedbackBox.textContent =
    `POST ${url}\n${pretty(body)}\n\n${response.status} ${response.statusText}\n${answer === null ? "" : pretty(answer)}`;
  if (response.ok) return { ok: true, message: `Feedback "${item.outcome}" stored (HTTP ${response.status}).` };
  const reason = outcomeMessage(answer);
  return { ok: false, message: `Feedback refused (HTTP ${response.status})${reason ? `: ${reason}` : ""}.` };
}

const handlers = {
  async onAccept(card, suggestion) {
    if (!card.uuid || !suggestion.uuid) {
      const message = "This card or suggestion has no uuid, so no feedback can be sent.";
      announce(message, "error");
      return { ok: false, message };
    }
    const result = await sendFeedback(shownServiceId, {
      card: card.uuid,
      outcome: "accepted",
      acceptedSuggestions: [{ id: suggestion.uuid }],
    });
    announce(result.message, result.ok ? "ok" : "error");
    return result;
  },
  async onDismiss(card, reason) {
    if (!card.uuid) {
      const message = "This card has no uuid, so no feedback can be sent.";
      announce(message, "error");
      return { ok: false, message };
    }
    const item = { card: card.uuid, outcome: "overridden" };
    if (reason) item.overrideReason = { reason: { code: reason.code, system: reason.system, display: reason.display } };
    const result = await sendFeedback(shownServiceId, item);
    const said = result.ok && reason ? `${result.message} Reason: ${reason.display || reason.code}.` : result.message;
    announce(said, result.ok ? "ok" : "error");
    return { ...result, message: said };
  },
};

async function callService(event) {
  event.preventDefault();
  const request = parseRequest();
  if (!request) {
    announce("Fix the request JSON before sending.", "error");
    requestBox.focus();
    return;
  }
  const serviceId = serviceSelect.value;
  adaptToHook(request, selectedHook());
  request.hookInstance = newUuid();
  requestBox.value = pretty(request);

  sendButton.disabled = true;
  cardsBox.setAttribute("aria-busy", "true");
  announce(`Calling ${serviceId}…`);
  const started = performance.now();
  try {
    const response = await fetch(`/cds-services/${encodeURIComponent(serviceId)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(request),
    });
    const body = await readJson(response);
    const ms = Math.round(performance.now() - started);
    responseBox.textContent = `${response.status} ${response.statusText}\n${body === null ? "" : pretty(body)}`;
    if (response.ok && body && Array.isArray(body.cards)) {
      shownServiceId = serviceId;
      const count = renderCards(cardsBox, body, handlers);
      announce(`${serviceId} answered ${response.status} with ${count} card${count === 1 ? "" : "s"} in ${ms} ms.`, "ok");
    } else {
      cardsBox.replaceChildren();
      const problem = document.createElement("p");
      problem.className = "error";
      problem.textContent = `HTTP ${response.status}: ${outcomeMessage(body) || "the service did not answer with cards"}`;
      cardsBox.append(problem);
      announce(`${serviceId} answered ${response.status}: ${outcomeMessage(body) || "no cards"}`, "error");
    }
  } catch (error) {
    responseBox.textContent = `(no answer: ${error.message})`;
    announce(`The call failed: ${error.message}`, "error");
  } finally {
    sendButton.disabled = false;
    cardsBox.removeAttribute("aria-busy");
  }
}

async function loadScenario(name) {
  if (!name) return;
  const option = [...scenarioSelect.options].find((item) => item.value === name);
  const response = await fetch(`/playground/scenarios/${encodeURIComponent(name)}`);
  if (!response.ok) {
    announce(`Scenario ${name} could not be loaded (HTTP ${response.status}).`, "error");
    return;
  }
  const request = await response.json();
  if (option?.dataset.service) serviceSelect.value = option.dataset.service;
  requestBox.value = pretty(request);
  showRequestError("");
  announce(`Loaded scenario "${option ? option.textContent : name}". Send it to see the cards.`);
}

async function loadScenarioList() {
  let scenarios = [];
  try {
    const response = await fetch("/playground/scenarios");
    scenarios = (await response.json()).scenarios || [];
  } catch (error) {
    announce(`The scenario list could not be loaded: ${error.message}`, "error");
  }
  scenarioSelect.replaceChildren();
  const placeholder = new Option(scenarios.length ? "Choose a scenario…" : "No scenarios in fhir_fixtures/requests", "");
  scenarioSelect.append(placeholder);
  const groups = new Map();
  for (const scenario of scenarios) {
    if (!groups.has(scenario.hook)) {
      const group = document.createElement("optgroup");
      group.label = scenario.hook;
      groups.set(scenario.hook, group);
      scenarioSelect.append(group);
    }
    const option = new Option(scenario.title, scenario.name);
    if (scenario.service_id) option.dataset.service = scenario.service_id;
    groups.get(scenario.hook).append(option);
  }
  const wanted = new URLSearchParams(window.location.search).get("scenario");
  if (wanted && scenarios.some((scenario) => scenario.name === wanted)) {
    scenarioSelect.value = wanted;
    await loadScenario(wanted);
  }
  document.body.dataset.ready = "true";
}

scenarioSelect.addEventListener("change", () => loadScenario(scenarioSelect.value));
serviceSelect.addEventListener("change", () => {
  const request = parseRequest();
  if (request) requestBox.value = pretty(adaptToHook(request, selectedHook()));
});
requestBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});
form.addEventListener("submit", callService);

requestBox.value = pretty({
  hookInstance: "",
  hook: selectedHook(),
  context: {},
});
loadScenarioList();
