// What the CDS Hooks sandbox's screens do with a CDS service, reproduced for the browser tests (the sandbox
// web app is not published on npm). Written from the behaviour of its source (cds-hooks/sandbox: service
// exchange, prefetch, card list, PAMA imaging screen), not copied from it:
//  - discovery GET and service POSTs from the browser, on another origin, with an ES384 JWT (aud = URL called);
//  - prefetch filled in the browser: {{context.patientId}}, {{context.userId}}, {{user}}, {{today() +/- N days}}
//    replaced, a read with GET, a search POSTed to `{type}/_search` (GET if that fails), failed or empty keys
//    left out, never null;
//  - the request's `hook` is the screen's hook, whichever service is called (PAMA screen: "order-sign");
//  - cards sorted by indicator, summary, source, detail as Markdown with raw HTML rendered, suggestion buttons;
//  - a suggestion click sends `accepted` feedback when the card and suggestion have uuids, then, on the PAMA
//    screen, reads the pama-rating of every update action (`const { rating } = ratings[0]`, which throws
//    "Cannot destructure property 'rating'" when an update carries no rating) and applies the resource's
//    first code and first reason to the order, which fires order-select again; on Patient View the
//    medication reducer only warns about a resource without medicationCodeableConcept;
//  - a failed call shows "Could not get a response from the CDS Service" and logs a console error.
'use strict';

const config = window.HARNESS;
const PAMA_RATING = 'http://fhir.org/argonaut/Extension/pama-rating';
const state = { rating: 'unknown', order: config.order ? { ...config.order, reasons: [...config.order.reasons] } : null };
window.harnessLog = [];

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const encodeJson = (value) => b64url(new TextEncoder().encode(JSON.stringify(value)));

let signingKey;
async function jwtFor(url) {
  signingKey ??= await crypto.subtle.importKey(
    'jwk', config.jwk, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign'],
  );
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES384', typ: 'JWT', kid: config.kid, jku: config.jku };
  const payload = { iss: config.iss, aud: url, exp: now + 300, iat: now, jti: crypto.randomUUID() };
  const input = `${encodeJson(header)}.${encodeJson(payload)}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, signingKey, new TextEncoder().encode(input));
  return `${input}.${b64url(signature)}`;
}

function today(sign, days) {
  const date = new Date();
  date.setUTCDate(date.getUTCDate() + (sign === '-' ? -1 : 1) * Number(days || 0));
  return date.toISOString().slice(0, 10);
}

function fillTemplate(template) {
  return template
    .replace(/{{\s*context\.patientId\s*}}/g, config.patientId)
    .replace(/{{\s*user\s*}}/g, config.userId)
    .replace(/{{\s*context\.userId\s*}}/g, config.userId)
    .replace(/{{\s*today\(\)\s*(?:([+-])\s*(\d+)\s*days?\s*)?}}/g, (_, sign, days) => today(sign, days));
}

async function readJson(url, init) {
  const response = await fetch(url, { ...init, headers: { Accept: 'application/json+fhir', ...(init || {}).headers } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

// A read is a GET; a search is POSTed to `{type}/_search` as a form, with a GET of the same query if that fails.
async function prefetch(templates) {
  const result = {};
  await Promise.all(Object.entries(templates || {}).map(async ([key, template]) => {
    const [path, query] = fillTemplate(template).split('?');
    const params = new URLSearchParams(query || '');
    const getUrl = `${config.fhirServer}/${path}${query ? `?${params}` : ''}`;
    try {
      let data;
      if (query) {
        try {
          data = await readJson(`${config.fhirServer}/${path}/_search`, {
            method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: params.toString(),
          });
        } catch (error) {
          data = await readJson(getUrl);
        }
      } else {
        data = await readJson(getUrl);
      }
      if (data && Object.keys(data).length) result[key] = data;
    } catch (error) {
      console.log(`Unable to prefetch data for ${getUrl}`);
    }
  }));
  return result;
}

function draftOrder() {
  const { code, reasons } = state.order;
  return {
    resourceType: 'ServiceRequest',
    id: 'example-request-id',
    status: 'draft',
    intent: 'plan',
    code: { coding: [code], text: code.display },
    subject: { reference: `Patient/${config.patientId}` },
    reasonCode: reasons.map((r) => ({ coding: [r], text: r.display })),
  };
}

function hookContext() {
  if (config.screen !== 'pama') return {};
  return {
    selections: ['ServiceRequest/example-request-id'],
    draftOrders: { resourceType: 'Bundle', entry: [{ resource: draftOrder() }] },
  };
}

async function callService(service) {
  const url = `${config.discovery}/${service.id}`;
  const request = {
    hookInstance: crypto.randomUUID(),
    hook: config.hook,
    fhirServer: config.fhirServer,
    context: { patientId: config.patientId, userId: config.userId, ...hookContext() },
  };
  const fetched = await prefetch(service.prefetch);
  if (Object.keys(fetched).length) request.prefetch = fetched;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Bearer ${await jwtFor(url)}` },
      body: JSON.stringify(request),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    window.harnessLog.push({ url, request, status: response.status, cards: body.cards || [] });
    return (body.cards || []).map((card) => ({ ...card, serviceUrl: url }));
  } catch (error) {
    window.harnessLog.push({ url, request, error: String(error) });
    console.error(`Could not POST data to CDS Service ${url}`);
    const banner = document.getElementById('error-banner');
    banner.hidden = false;
    banner.textContent = 'Could not get a response from the CDS Service. See developer tools for more details';
    return [];
  }
}

// Markdown as react-markdown + remark-gfm + rehype-raw render it, reduced to what cards use: raw HTML in
// the text is kept as HTML (rehype-raw), so a card that echoed resource text unescaped would inject markup.
function markdown(text) {
  const inline = (s) => s
    .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\\([\\`*_{}[\]()#+\-.!|<>])/g, '$1');
  return text.split('\n').map((line) => {
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) return `<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`;
    const task = line.match(/^\s*[-*]\s+\[( |x)\]\s+(.*)$/);
    if (task) return `<li><input type="checkbox" disabled ${task[1] === 'x' ? 'checked' : ''}> ${inline(task[2])}</li>`;
    const item = line.match(/^\s*[-*]\s+(.*)$/);
    if (item) return `<li>${inline(item[1])}</li>`;
    return line.trim() ? `<p>${inline(line)}</p>` : '';
  }).join('\n');
}

const INDICATORS = { info: 0, warning: 1, critical: 2, error: 3 };

function render(cards) {
  const list = document.getElementById('cards');
  list.replaceChildren();
  if (!cards.length) {
    list.textContent = 'No Cards';
    return;
  }
  [...cards].sort((b, a) => INDICATORS[a.indicator] - INDICATORS[b.indicator]).forEach((card) => {
    const node = document.createElement('div');
    node.className = `decision-card alert-${card.indicator}`;
    const summary = document.createElement('div');
    summary.className = 'summary';
    summary.textContent = card.summary;
    node.append(summary);
    if (card.source && card.source.label) {
      const source = document.createElement('a');
      source.className = 'source';
      source.href = card.source.url || '#';
      source.textContent = card.source.label;
      source.addEventListener('click', (e) => e.preventDefault());
      node.append(source);
    }
    if (card.detail) {
      const detail = document.createElement('div');
      detail.className = 'detail';
      detail.innerHTML = markdown(card.detail);
      node.append(detail);
    }
    (card.suggestions || []).forEach((suggestion) => {
      const button = document.createElement('button');
      button.className = 'suggestion';
      button.textContent = suggestion.label;
      button.addEventListener('click', () => takeSuggestion(card, suggestion));
      node.append(button);
    });
    list.append(node);
  });
}

async function sendFeedback(card, suggestion) {
  if (!card.uuid || !suggestion.uuid) return;
  const url = `${card.serviceUrl}/feedback`;
  const body = {
    feedback: [{
      card: card.uuid,
      outcome: 'accepted',
      acceptedSuggestions: [{ id: suggestion.uuid }],
      outcomeTimestamp: new Date().toISOString(),
    }],
  };
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await jwtFor(url)}` },
    body: JSON.stringify(body),
  });
  window.harnessLog.push({ url, feedback: body, status: response.status });
}

function ratingsOf(action) {
  return (action.resource.extension || [])
    .filter(({ url }) => url === PAMA_RATING)
    .flatMap(({ valueCodeableConcept }) => valueCodeableConcept.coding.map((c) => ({ rating: c.code, resourceId: action.resource.id })));
}

async function takeSuggestion(card, suggestion) {
  if (!suggestion.label) {
    console.error('There was no label on this suggestion');
    return;
  }
  sendFeedback(card, suggestion);
  const actions = suggestion.actions || [];
  actions.forEach((action) => {
    if (!action.description) console.error('Missing required "description" field in suggestion action');
  });
  if (config.screen !== 'pama') {
    actions.filter((a) => a.type === 'create' || a.type === 'update').forEach((a) => {
      if (!a.resource) console.warn('Could not find an accompanying resource for the suggestion');
      else if (!a.resource.medicationCodeableConcept) console.warn('Suggested resource does not have a medicationCodeableConcept');
    });
    return;
  }
  let changed = false;
  actions.filter((a) => a.type === 'create' || a.type === 'update').forEach((action) => {
    const { rating } = ratingsOf(action)[0]; // throws on an update without a pama-rating, as the screen did
    state.rating = rating;
    document.getElementById('rating').textContent = rating;
    const { code, reasonCode } = action.resource;
    if (code && code.coding.length > 0) {
      state.order.code = code.coding[0];
      changed = true;
    }
    if (reasonCode && reasonCode.length > 0) {
      state.order.reasons.push(reasonCode[0].coding[0]);
      changed = true;
    }
  });
  if (changed) await fire('order-select');
}

let services = [];
async function fire(hook) {
  const cards = (await Promise.all(services.filter((s) => s.hook === hook).map(callService))).flat();
  render(cards);
  document.body.dataset.round = String(Number(document.body.dataset.round || 0) + 1);
}

async function start() {
  document.getElementById('screen-title').textContent = config.screen === 'pama' ? 'PAMA Imaging' : 'Patient View';
  document.getElementById('rating-box').hidden = config.screen !== 'pama';
  const response = await fetch(config.discovery, {
    headers: { Accept: 'application/json', Authorization: `Bearer ${await jwtFor(config.discovery)}` },
  });
  services = (await response.json()).services || [];
  if (!services.length) throw new Error('no services discovered');
  const patient = await fetch(`${config.fhirServer}/Patient/${config.patientId}`, { headers: { Accept: 'application/json+fhir' } });
  const name = ((await patient.json()).name || [{}])[0];
  document.getElementById('patient-banner').textContent = `Patient: ${(name.given || []).join(' ')} ${name.family || ''}`;
  await fire(config.screen === 'pama' ? 'order-select' : 'patient-view');
}

start();
