// A small Markdown renderer for card details that never produces raw HTML.
//
// It builds DOM nodes with createElement/textContent only, so any HTML in the source shows up as
// literal text. Supported: headings, paragraphs, bold, italics, inline and fenced code, unordered and
// ordered lists (nested by indentation), GitHub task-list items, block quotes, rules, simple pipe
// tables and links. Links keep only http(s) URLs; any other scheme (javascript:, data:, ...) is
// rendered as plain text.

const FENCE = /^\s{0,3}(```|~~~)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TASK = /^\[([ xX])\]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const TABLE_DIVIDER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

// Card headings sit under the card summary (an h3), so Markdown "#" becomes h4 and deeper.
function headingTag(level) {
  return `h${Math.min(6, level + 3)}`;
}

export function safeHttpUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, children) {
  const a = el("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.append(...children);
  return a;
}

const PUNCTUATION = "\\`*_{}[]()#+-.!|<>~\"'";

// Inline Markdown -> array of nodes.
export function inline(text) {
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push(document.createTextNode(plain));
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const rest = text.slice(i);

    if (ch === "\\" && i + 1 < text.length && PUNCTUATION.includes(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const run = rest.match(/^`+/)[0];
      const close = text.indexOf(run, i + run.length);
      if (close > 0) {
        flush();
        const code = el("code");
        code.textContent = text.slice(i + run.length, close).trim();
        out.push(code);
        i = close + run.length;
        continue;
      }
      plain += run;
      i += run.length;
      continue;
    }
    const strong = rest.match(/^(\*\*|__)(?=\S)([\s\S]*?\S)\1/);
    if (strong) {
      flush();
      const node = el("strong");
      node.append(...inline(strong[2]));
      out.push(node);
      i += strong[0].length;
      continue;
    }
    const emphasis = rest.match(/^\*(?=[^\s*])([\s\S]*?[^\s*])\*/) ||
      (/\w/.test(text[i - 1] || "") ? null : rest.match(/^_(?=[^\s_])([\s\S]*?[^\s_])_(?!\w)/));
    if (emphasis) {
      flush();
      const node = el("em");
      node.append(...inline(emphasis[1]));
      out.push(node);
      i += emphasis[0].length;
      continue;
    }
    if (ch === "[") {
      const match = rest.match(/^\[([^\]]*)\]\(\s*<?([^\s)>]*)>?(?:\s+"[^"]*")?\s*\)/);
      if (match) {
        flush();
        const href = safeHttpUrl(match[2]);
        const label = inline(match[1] || match[2]);
        if (href) out.push(link(href, label));
        else out.push(...label);
        i += match[0].length;
        continue;
      }
    }
    if (ch === "<") {
      const auto = rest.match(/^<(https?:\/\/[^\s<>]+)>/i);
      if (auto && safeHttpUrl(auto[1])) {
        flush();
        out.push(link(safeHttpUrl(auto[1]), [document.createTextNode(auto[1])]));
        i += auto[0].length;
        continue;
      }
    }
    if ((ch === "h" || ch === "H") && !/\w/.test(text[i - 1] || "")) {
      const bare = rest.match(/^https?:\/\/[^\s<>]*[^\s<>.,:;"')\]]/i);
      if (bare && safeHttpUrl(bare[0])) {
        flush();
        out.push(link(safeHttpUrl(bare[0]), [document.createTextNode(bare[0])]));
        i += bare[0].length;
        continue;
      }
    }
    plain += ch;
    i += 1;
  }
  flush();
  return out;
}

// Paragraph text: lines joined by spaces, with a hard break after two trailing spaces or a backslash.
function paragraphNodes(lines) {
  const nodes = [];
  lines.forEach((line, index) => {
    const hard = /( {2,}|\\)$/.test(line);
    const trimmed = line.replace(/( {2,}|\\)$/, "").trim();
    nodes.push(...inline(trimmed));
    if (index < lines.length - 1) nodes.push(hard ? el("br") : document.createTextNode(" "));
  });
  return nodes;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

function isBlockStart(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || LIST_ITEM.test(line) ||
    QUOTE.test(line) || (line.includes("|") && next !== undefined && TABLE_DIVIDER.test(next) && next.includes("-"));
}

function renderList(lines, start) {
  // Items at the indentation of the first one belong to this list; deeper ones nest in the last item.
  const first = lines[start].match(LIST_ITEM);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) list.start = parseInt(first[2], 10);
  let item = null;
  let i = start;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      const next = lines[i + 1];
      if (next !== undefined && LIST_ITEM.test(next) && next.match(LIST_ITEM)[1].length >= indent) {
        i += 1;
        continue;
      }
      break;
    }
    const match = line.match(LIST_ITEM);
    if (match && match[1].length > indent && item) {
      const [nested, after] = renderList(lines, i);
      item.append(nested);
      i = after;
      continue;
    }
    if (match && match[1].length === indent && /\d/.test(match[2]) === ordered) {
      item = el("li");
      const task = match[3].match(TASK);
      if (task) {
        item.className = "task";
        // A read-only box: a glyph with a text alternative reads better than a greyed-out disabled input.
        const done = task[1] !== " ";
        const box = el("span", done ? "task__box task__box--done" : "task__box");
        box.setAttribute("role", "img");
        box.setAttribute("aria-label", done ? "done:" : "to do:");
        box.textContent = done ? "\u2611" : "\u2610";
        item.dataset.done = String(done);
        item.append(box, document.createTextNode(" "), ...inline(task[2]));
      } else {
        item.append(...inline(match[3]));
      }
      list.append(item);
      i += 1;
      continue;
    }
    if (!match && item && /^\s+\S/.test(line)) {
      // A continuation line of the current item.
      item.append(document.createTextNode(" "), ...inline(line.trim()));
      i += 1;
      continue;
    }
    break;
  }
  return [list, i];
}

function renderTable(lines, start) {
  const table = el("table");
  const head = el("thead");
  const headRow = el("tr");
  for (const cell of splitRow(lines[start])) {
    const th = el("th");
    th.scope = "col";
    th.append(...inline(cell));
    headRow.append(th);
  }
  head.append(headRow);
  table.append(head);
  const body = el("tbody");
  let i = start + 2;
  while (i < lines.length && lines[i].trim() && lines[i].includes("|")) {
    const tr = el("tr");
    for (const cell of splitRow(lines[i])) {
      const td = el("td");
      td.append(...inline(cell));
      tr.append(td);
    }
    body.append(tr);
    i += 1;
  }
  table.append(body);
  return [table, i];
}

function renderBlocks(lines, target) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = line.match(FENCE);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1;
      const pre = el("pre");
      const code = el("code");
      code.textContent = body.join("\n");
      pre.append(code);
      target.append(pre);
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      const node = el(headingTag(heading[1].length));
      node.append(...inline(heading[2]));
      target.append(node);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      target.append(el("hr"));
      i += 1;
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const [list, after] = renderList(lines, i);
      target.append(list);
      i = after;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        quoted.push(lines[i].match(QUOTE)[1]);
        i += 1;
      }
      const quote = el("blockquote");
      renderBlocks(quoted, quote);
      target.append(quote);
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_DIVIDER.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      const [table, after] = renderTable(lines, i);
      target.append(table);
      i = after;
      continue;
    }
    const paragraph = [line];
    i += 1;
    while (i < lines.length && lines[i].trim() && !isBlockStart(lines[i], lines[i + 1])) {
      paragraph.push(lines[i]);
      i += 1;
    }
    const p = el("p");
    p.append(...paragraphNodes(paragraph));
    target.append(p);
  }
}

// Markdown text -> DocumentFragment (safe to append anywhere).
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  if (typeof source !== "string" || !source) return fragment;
  renderBlocks(source.replace(/\r\n?/g, "\n").split("\n"), fragment);
  return fragment;
}
