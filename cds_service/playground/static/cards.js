// Renders CDS Hooks cards the way an EHR shows them: indicator, summary, source, Markdown detail,
// suggestions as buttons, links, and a dismiss menu with the card's override reasons. Feedback is not
// sent from here: the caller passes onAccept/onDismiss, which return {ok, message}.

import { renderMarkdown, safeHttpUrl } from "./markdown.js";

const SEVERITY = { critical: 0, warning: 1, info: 2 };
const INDICATOR_LABEL = { critical: "Critical", warning: "Warning", info: "Info" };
export const CODING_EXTENSION = "cpt-coding.suggestion";

let cardCounter = 0;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Extension values are free-form; show the most human part of whatever shape they have.
function describe(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  for (const key of ["label", "text", "description", "display", "message", "id", "code"]) {
    if (typeof value[key] === "string" && value[key]) return value[key];
  }
  return JSON.stringify(value);
}

function identifier(value) {
  if (value && typeof value === "object") return String(value.id || value.code || describe(value));
  return String(value);
}

/** A list of codes or gap ids, each item described and tagged with its id (data-<key>) for tests. */
function codeList(items, listClass, itemClass, key) {
  const list = el("ul", listClass);
  for (const item of items) {
    const li = el("li", itemClass, describe(item));
    li.dataset[key] = identifier(item);
    list.append(li);
  }
  return list;
}

function asList(value) {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

function renderCoding(suggestion) {
  const section = el("section", "coding");
  section.setAttribute("aria-label", "Coding suggestion");
  section.append(el("h4", "coding__title", "Coding suggestion"));
  if (suggestion.subject) {
    const subject = el("p", "coding__subject");
    subject.append("For ", el("code", "", describe(suggestion.subject)));
    section.append(subject);
  }

  const lines = asList(suggestion.lines);
  if (lines.length) {
    const table = el("table", "coding__lines");
    const caption = el("caption", "visually-hidden", "Claim lines");
    const head = el("thead");
    const headRow = el("tr");
    for (const title of ["CPT", "Modifiers", "Units"]) {
      const th = el("th", "", title);
      th.scope = "col";
      headRow.append(th);
    }
    head.append(headRow);
    const body = el("tbody");
    for (const line of lines) {
      const modifiers = asList(line.modifiers).map(identifier);
      const row = el("tr", "coding__line");
      row.dataset.code = identifier(line.code ?? "");
      row.dataset.modifiers = modifiers.join(",");
      row.append(
        el("td", "coding__code", row.dataset.code),
        el("td", "coding__modifiers", modifiers.length ? modifiers.join(", ") : "none"),
        el("td", "coding__units", line.units === undefined ? "1" : String(line.units)),
      );
      body.append(row);
    }
    table.append(caption, head, body);
    section.append(table);
  } else {
    section.append(el("p", "coding__none", "No billable line."));
  }

  const bundled = asList(suggestion.notSeparatelyBillable);
  if (bundled.length) {
    section.append(el("h5", "", "Not separately billable"), codeList(bundled, "coding__bundled", "", "code"));
  }

  const gaps = asList(suggestion.documentationGaps);
  section.append(el("h5", "", "Documentation gaps"));
  if (gaps.length) {
    section.append(codeList(gaps, "coding__gaps", "coding__gap", "gap"));
  } else {
    section.append(el("p", "coding__none", "None."));
  }

  if (suggestion.rule) {
    const rule = el("p", "coding__rule");
    rule.append("Rule: ", el("code", "", describe(suggestion.rule)));
    section.append(rule);
  }
  return section;
}

function renderSource(source) {
  const line = el("p", "card__source");
  line.append("Source: ");
  const url = safeHttpUrl(source.url || "");
  if (url) {
    const a = el("a", "", source.label);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    line.append(a);
  } else {
    line.append(source.label);
  }
  if (source.topic && source.topic.display) line.append(` · ${source.topic.display}`);
  return line;
}

function renderLinks(links) {
  const list = el("ul", "card__links");
  for (const link of links) {
    const li = el("li");
    const url = safeHttpUrl(link.url || "");
    if (url && link.type !== "smart") {
      const a = el("a", "link-button", link.label);
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      li.append(a);
    } else {
      // SMART launches need an EHR launch context that the playground does not have.
      li.append(el("span", "link-button link-button--off", link.label));
      li.append(el("span", "hint", link.type === "smart" ? " (SMART app: not launched here)" : " (not an http(s) link)"));
    }
    list.append(li);
  }
  return list;
}

function actionText(action) {
  const what = action.resource?.resourceType || action.resourceId || "resource";
  return `${action.type} ${what}: ${action.description || ""}`.trim();
}

// A menu button: Enter/Space/ArrowDown opens it, arrows move, Escape closes and returns focus.
function dismissMenu(card, cardId, onChoose) {
  const wrapper = el("div", "dismiss");
  const button = el("button", "button button--quiet dismiss__button", "Dismiss…");
  button.type = "button";
  button.id = `${cardId}-dismiss`;
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  const menu = el("div", "dismiss__menu");
  menu.id = `${cardId}-dismiss-menu`;
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-labelledby", button.id);
  menu.hidden = true;
  button.setAttribute("aria-controls", menu.id);

  const choices = [...asList(card.overrideReasons).map((reason) => ({ label: reason.display || reason.code, reason })),
    { label: "Dismiss without a reason", reason: null }];
  const items = choices.map((choice) => {
    const item = el("button", "dismiss__item", choice.label);
    item.type = "button";
    item.setAttribute("role", "menuitem");
    item.tabIndex = -1;
    item.addEventListener("click", () => {
      close(true);
      onChoose(choice.reason);
    });
    menu.append(item);
    return item;
  });

  function open(focusIndex = 0) {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    items[(focusIndex + items.length) % items.length].focus();
  }
  function close(returnFocus) {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (returnFocus) button.focus();
  }
  button.addEventListener("click", () => (menu.hidden ? open(0) : close(false)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      open(event.key === "ArrowDown" ? 0 : -1);
    }
  });
  menu.addEventListener("keydown", (event) => {
    const index = items.indexOf(document.activeElement);
    const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: items.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      items[(moves[event.key] + items.length) % items.length].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    } else if (event.key === "Tab") {
      close(false);
    }
  });
  wrapper.addEventListener("focusout", (event) => {
    if (!wrapper.contains(event.relatedTarget)) close(false);
  });
  wrapper.append(button, menu);
  return wrapper;
}

function renderCard(card, handlers) {
  cardCounter += 1;
  const cardId = `card-${cardCounter}`;
  const indicator = card.indicator in SEVERITY ? card.indicator : "info";
  const article = el("article", `card card--${indicator}`);
  article.dataset.indicator = indicator;
  if (card.uuid) article.dataset.cardUuid = card.uuid;
  article.setAttribute("aria-labelledby", `${cardId}-summary`);

  const header = el("header", "card__header");
  header.append(el("span", `badge badge--${indicator}`, INDICATOR_LABEL[indicator]));
  const summary = el("h3", "card__summary", card.summary || "(no summary)");
  summary.id = `${cardId}-summary`;
  header.append(summary);
  article.append(header);

  if (card.source && card.source.label) article.append(renderSource(card.source));
  if (card.detail) {
    const detail = el("div", "card__detail markdown");
    detail.append(renderMarkdown(card.detail));
    article.append(detail);
  }
  const coding = card.extension && card.extension[CODING_EXTENSION];
  if (coding && typeof coding === "object") article.append(renderCoding(coding));

  const feedback = el("p", "card__feedback");
  const suggestions = asList(card.suggestions);
  const suggestionButtons = [];
  if (suggestions.length) {
    const group = el("div", "card__suggestions");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggestions");
    for (const suggestion of suggestions) {
      const button = el("button", `button ${suggestion.isRecommended ? "button--primary" : "button--secondary"} suggestion`);
      button.type = "button";
      button.textContent = suggestion.label;
      if (suggestion.uuid) button.dataset.suggestionUuid = suggestion.uuid;
      if (suggestion.isRecommended) button.append(el("span", "visually-hidden", " (recommended)"));
      button.addEventListener("click", async () => {
        button.disabled = true;
        const result = await handlers.onAccept(card, suggestion);
        const applied = asList(suggestion.actions).map(actionText);
        feedback.textContent = result.message + (applied.length ? ` Would apply: ${applied.join("; ")}.` : "");
        feedback.dataset.outcome = result.ok ? "accepted" : "failed";
        if (!result.ok) {
          button.disabled = false;
          return;
        }
        button.setAttribute("aria-pressed", "true");
        button.dataset.accepted = "true";
        if (card.selectionBehavior === "at-most-one") {
          for (const other of suggestionButtons) other.disabled = true;
        }
      });
      suggestionButtons.push(button);
      group.append(button);
    }
    article.append(group);
  }
  if (asList(card.links).length) article.append(renderLinks(asList(card.links)));

  const footer = el("div", "card__footer");
  footer.append(dismissMenu(card, cardId, async (reason) => {
    const result = await handlers.onDismiss(card, reason);
    feedback.textContent = result.message;
    feedback.dataset.outcome = result.ok ? "overridden" : "failed";
    if (result.ok) article.classList.add("card--dismissed");
  }));
  article.append(footer, feedback);
  return article;
}

// Replace the contents of `container` with the response's cards, most severe first.
export function renderCards(container, response, handlers) {
  container.replaceChildren();
  const cards = asList(response && response.cards).map((card, index) => ({ card, index }));
  if (!cards.length) {
    container.append(el("p", "empty", "No cards: the service had nothing to say about this request."));
    return 0;
  }
  cards.sort((a, b) => (SEVERITY[a.card.indicator] ?? 3) - (SEVERITY[b.card.indicator] ?? 3) || a.index - b.index);
  for (const { card } of cards) container.append(renderCard(card, handlers));
  return cards.length;
}
