// The chat page: sign-in, conversations, streamed answers, citations, cards and confirmations.
// No framework and no build step. Every piece of text from the server goes into the page through
// textContent, or through the markdown renderer below, which escapes HTML before adding its own tags.
"use strict";

const state = { me: null, csrf: null, threadId: null, busy: false };
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------------
// HTTP
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `Request failed (${status})`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, { method = "GET", body, headers = {} } = {}) {
  const options = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && state.csrf) options.headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && path !== "/api/login") showSignIn("Your session has ended; please sign in again.");
    throw new ApiError(response.status, data);
  }
  return data;
}

// ---------------------------------------------------------------------------------------------------
// DOM helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function definitions(pairs) {
  const dl = el("dl");
  for (const [term, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", { text: term }), el("dd", { text: String(value) }));
  }
  return dl;
}

// One money format on the whole page, cards and worklists alike: "$5,690.00". The server sends amounts as
// decimal strings; Number() is only for showing them, never for adding them up (the server's totals are shown).
const MONEY = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const money = (value) => (value === null || value === undefined || value === "" ? "" : MONEY.format(Number(value)));
const label = (value) => String(value || "").replaceAll("_", " ");

// ---------------------------------------------------------------------------------------------------
// Markdown: a small, safe subset (paragraphs, bold, italics, code, lists, blockquotes, headings, [n]).
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function inline(text) {
  return String(text)
    .split(/(`[^`\n]+`)/)
    .map((part) => {
      if (part.length > 1 && part.startsWith("`") && part.endsWith("`")) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      return escapeHtml(part)
        .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
        .replace(/(^|[^*\w])\*(?!\s)([^*\n]+?)\*(?!\w)/g, "$1<em>$2</em>")
        .replace(/(^|[^\w])_(?!\s)([^_\n]+?)_(?!\w)/g, "$1<em>$2</em>")
        .replace(/\[(\d{1,3})\]/g, '<button type="button" class="cite" data-cite="$1" aria-label="Source $1">[$1]</button>');
    })
    .join("");
}

function renderMarkdown(markdown) {
  const lines = String(markdown || "").replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let i = 0;
  const take = (test) => {
    const block = [];
    while (i < lines.length && test(lines[i])) block.push(lines[i++]);
    return block;
  };
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) { i++; continue; }
    if (/^```/.test(line)) {
      i++;
      const code = take((l) => !/^```/.test(l));
      i++;
      out.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
    } else if (/^#{1,6}\s/.test(line)) {
      out.push(`<h3>${inline(line.replace(/^#+\s*/, ""))}</h3>`);
      i++;
    } else if (/^\s*[-*+]\s+/.test(line)) {
      const items = take((l) => /^\s*[-*+]\s+/.test(l));
      out.push(`<ul>${items.map((l) => `<li>${inline(l.replace(/^\s*[-*+]\s+/, ""))}</li>`).join("")}</ul>`);
    } else if (/^\s*\d+[.)]\s+/.test(line)) {
      const items = take((l) => /^\s*\d+[.)]\s+/.test(l));
      out.push(`<ol>${items.map((l) => `<li>${inline(l.replace(/^\s*\d+[.)]\s+/, ""))}</li>`).join("")}</ol>`);
    } else if (/^\s*>/.test(line)) {
      const quoted = take((l) => /^\s*>/.test(l)).map((l) => l.replace(/^\s*>\s?/, ""));
      out.push(`<blockquote>${quoted.map(inline).join("<br>")}</blockquote>`);
    } else {
      const para = take((l) => !/^\s*$/.test(l) && !/^(```|#{1,6}\s|\s*[-*+]\s+|\s*\d+[.)]\s+|\s*>)/.test(l));
      out.push(`<p>${para.map(inline).join("<br>")}</p>`);
    }
  }
  return out.join("");
}

// ---------------------------------------------------------------------------------------------------
// Sign-in
function showSignIn(message) {
  state.me = null;
  state.csrf = null;
  $("app").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("email").focus();
}

function showApp(me) {
  state.me = me;
  state.csrf = me.csrf_token;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("who").textContent = `${me.name} · ${label(me.role)}`;
  loadThreads();
  $("message").focus();
}

async function signIn(event) {
  event.preventDefault();
  const email = $("email").value.trim();
  const password = $("password").value;
  if (!email || !password) {
    showSignIn("Enter your email and password.");
    return;
  }
  try {
    const me = await api("/api/login", { method: "POST", body: { email, password } });
    $("password").value = "";
    showApp(me);
  } catch (error) {
    showSignIn(error.status === 401 ? "Wrong email or password." : error.message);
    $("password").focus();
  }
}

async function signOut() {
  try { await api("/api/logout", { method: "POST" }); } catch (_) { /* signed out either way */ }
  $("log").replaceChildren();
  $("thread-list").replaceChildren();
  $("thread-search").value = "";
  threadNotice("");
  showWorklists(false);
  state.threadId = null;
  showSignIn("You are signed out.");
}

// ---------------------------------------------------------------------------------------------------
// Conversations
// When a conversation was last active: the time today, else the day ("Dec 1"), the year if not this one.
function whenShort(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const now = new Date();
  if (when.toDateString() === now.toDateString()) return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const options = { month: "short", day: "numeric" };
  if (when.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return when.toLocaleDateString([], options);
}

// The same, to the second today and to the minute on other days: for conversations with the same title.
function whenLong(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const now = new Date();
  if (when.toDateString() === now.toDateString()) {
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  const options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  if (when.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return when.toLocaleString([], options);
}

// The date each listed conversation shows. Titles repeat (the same question asked twice): a title shown more
// than once with the same date gets the longer one, and if even that is the same, a number from the oldest.
function threadDates(threads) {
  const shown = threads.map((t) => whenShort(t.updated_at));
  const key = (t, date) => `${t.title}\u0000${date}`;
  const seen = new Map();
  threads.forEach((t, i) => seen.set(key(t, shown[i]), (seen.get(key(t, shown[i])) || 0) + 1));
  threads.forEach((t, i) => { if (seen.get(key(t, shown[i])) > 1) shown[i] = whenLong(t.updated_at); });
  const left = new Map();
  threads.forEach((t, i) => left.set(key(t, shown[i]), (left.get(key(t, shown[i])) || 0) + 1));
  const counted = new Map();
  for (let i = threads.length - 1; i >= 0; i--) {
    const k = key(threads[i], shown[i]);
    if (left.get(k) < 2) continue;
    counted.set(k, (counted.get(k) || 0) + 1);
    shown[i] = `${shown[i]} · #${counted.get(k)}`;
  }
  return shown;
}

let threadsAsked = 0;
let searchTimer = null;

async function loadThreads() {
  const query = $("thread-search").value.trim();
  const ticket = ++threadsAsked;
  let threads;
  try {
    threads = await api(query ? `/api/threads?q=${encodeURIComponent(query)}` : "/api/threads");
  } catch (error) {
    if (ticket === threadsAsked && query) threadNotice(error.message, true);
    return;
  }
  if (ticket !== threadsAsked) return; // a newer search answered first, or will
  const list = $("thread-list");
  if (list.querySelector("form")) return; // a title being edited: the list comes back when it is saved
  const dates = threadDates(threads);
  list.replaceChildren(...threads.map((t, i) => threadItem(t, dates[i], i)));
  const status = $("thread-status");
  if (status.dataset.keep) delete status.dataset.keep;
  else if (!query) threadNotice("");
  else if (threads.length) threadNotice(`${threads.length} conversation${threads.length === 1 ? " matches" : "s match"}.`);
  else threadNotice(`No conversation matches “${query}”.`);
}

function threadNotice(text, error = false, { keep = false } = {}) {
  const status = $("thread-status");
  status.textContent = text;
  status.classList.toggle("error", error);
  if (keep) status.dataset.keep = "1"; // outlives the next reload of the list (it says what that reload shows)
}

function threadItem(thread, date, index) {
  const titleId = `thread-title-${index}`;
  const when = new Date(thread.updated_at);
  const open = el("button", {
    type: "button",
    class: "thread-open",
    "aria-current": thread.id === state.threadId ? "true" : null,
    "aria-keyshortcuts": "F2 Delete",
    title: thread.title, // the whole title, however long: the list cuts it with an ellipsis
    onclick: () => openThread(thread.id),
    onkeydown: (event) => {
      if (event.key === "F2") { event.preventDefault(); startRename(item, thread); }
      else if (event.key === "Delete") { event.preventDefault(); askDelete(thread, remove); }
    },
  },
  el("span", { class: "thread-title", id: titleId, text: thread.title || "Conversation" }),
  el("time", {
    class: "thread-date",
    datetime: thread.updated_at,
    title: Number.isNaN(when.getTime()) ? null : `Last active ${when.toLocaleString()}`,
    text: date,
  }));
  const rename = el("button", {
    type: "button", class: "thread-tool", "aria-label": "Rename", "aria-describedby": titleId, title: "Rename",
    onclick: () => startRename(item, thread),
  }, "✎");
  const remove = el("button", {
    type: "button", class: "thread-tool", "aria-label": "Delete", "aria-describedby": titleId, title: "Delete",
    onclick: () => askDelete(thread, remove),
  }, "✕");
  const item = el("li", { class: "thread", "data-thread": thread.id }, open, el("span", { class: "thread-tools" }, rename, remove));
  return item;
}

function focusThread(threadId, which = ".thread-open") {
  const item = [...$("thread-list").children].find((li) => li.dataset.thread === threadId);
  const target = item && item.querySelector(which);
  if (target) target.focus();
  return Boolean(target);
}

// Renaming in place: Enter saves, Escape gives up; focus goes back to the Rename button either way.
function startRename(item, thread) {
  const input = el("input", { type: "text", value: thread.title, maxlength: 120, "aria-label": "New title", required: true });
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const done = async () => {
    item.querySelector("form")?.remove();
    await loadThreads();
    focusThread(thread.id, ".thread-tool");
  };
  const form = el("form", { class: "thread-rename", "aria-label": "Rename the conversation" },
    input,
    el("div", { class: "buttons" },
      el("button", { type: "submit", class: "primary" }, "Save"),
      el("button", { type: "button", onclick: done }, "Cancel")),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/api/threads/${encodeURIComponent(thread.id)}`, { method: "PATCH", body: { title: input.value } });
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      input.focus();
      return;
    }
    threadNotice("Renamed.", false, { keep: true });
    await done();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); done(); }
  });
  item.replaceChildren(form);
  input.focus();
  input.select();
}

// Deleting asks first, in a dialog that starts on "Keep it"; Escape keeps it too.
let deleting = null;

function askDelete(thread, opener) {
  deleting = { thread, opener };
  const dialog = $("delete-thread");
  $("delete-thread-name").textContent = thread.title;
  dialog.returnValue = "";
  dialog.showModal();
  $("delete-thread-keep").focus();
}

async function onDeleteDialogClosed() {
  const target = deleting;
  deleting = null;
  if (!target) return;
  if ($("delete-thread").returnValue !== "delete") {
    target.opener.focus();
    return;
  }
  const { thread } = target;
  const items = [...$("thread-list").children];
  const at = items.findIndex((li) => li.dataset.thread === thread.id);
  let deleted;
  try {
    deleted = await api(`/api/threads/${encodeURIComponent(thread.id)}`, { method: "DELETE" });
  } catch (error) {
    threadNotice(error.message, true);
    target.opener.focus();
    return;
  }
  if (state.threadId === thread.id) {
    state.threadId = null;
    $("log").replaceChildren(el("p", { class: "hint muted", text: "That conversation was deleted. What would you like to know?" }));
  }
  const cancelled = deleted.cancelled_actions.length;
  threadNotice(
    cancelled
      ? `Conversation deleted; ${cancelled} action${cancelled === 1 ? "" : "s"} waiting for confirmation in it ${cancelled === 1 ? "was" : "were"} cancelled.`
      : "Conversation deleted.",
    false,
    { keep: true },
  );
  await loadThreads();
  // Focus stays in the list: on the conversation that took its place, else the one before, else the search box.
  const left = [...$("thread-list").children];
  const next = left[Math.min(Math.max(at, 0), left.length - 1)];
  if (next) next.querySelector(".thread-open").focus();
  else $("thread-search").focus();
}

function onSearchInput() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadThreads, 250);
}

function onSearchKey(event) {
  if (event.key === "Enter") {
    event.preventDefault();
    clearTimeout(searchTimer);
    loadThreads();
  } else if (event.key === "Escape" && event.currentTarget.value) {
    event.preventDefault();
    event.currentTarget.value = "";
    clearTimeout(searchTimer);
    loadThreads();
  }
}

async function openThread(threadId) {
  try {
    const detail = await api(`/api/threads/${encodeURIComponent(threadId)}`);
    state.threadId = threadId;
    showWorklists(false);
    const log = $("log");
    log.replaceChildren();
    let question = null;
    for (const message of detail.messages) {
      if (message.role === "user") {
        question = message.text;
        log.append(el("div", { class: "msg user", text: message.text }));
      } else {
        // As the live answer showed it: cards, numbered citations, sources, answer actions, feedback.
        const bubble = el("div", { class: "msg assistant" });
        log.append(bubble);
        renderReply(bubble, { thread_id: threadId, answer: message.text, cards: message.cards, citations: message.citations }, { reopened: true, question });
      }
    }
    log.scrollTop = log.scrollHeight;
    closeThreadsOnNarrow();
    loadThreads();
    $("message").focus();
  } catch (error) {
    $("log").append(el("div", { class: "msg assistant failed", role: "alert", text: error.message }));
  }
}

function newThread() {
  state.threadId = null;
  if (!$("worklists").hidden) showWorklists(false);
  $("log").replaceChildren(el("p", { class: "hint muted", text: "New conversation. What would you like to know?" }));
  closeThreadsOnNarrow();
  loadThreads();
  $("message").focus();
}

function closeThreadsOnNarrow() {
  $("threads").classList.remove("open");
  $("toggle-threads").setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------------------------------------------
// Asking: the answer streams as Server-Sent Events over fetch (EventSource cannot POST or send headers).
async function ask(text) {
  const log = $("log");
  const hint = log.querySelector(".hint");
  if (hint) hint.remove();
  log.append(el("div", { class: "msg user", text }));
  const steps = el("ul", { class: "steps", "aria-label": "Progress" });
  const bubble = el("div", { class: "msg assistant", "aria-busy": "true" }, steps);
  log.append(bubble);
  log.scrollTop = log.scrollHeight;
  try {
    const response = await fetch("/api/chat?stream=1", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "text/event-stream",
        "Content-Type": "application/json",
        "X-CSRF-Token": state.csrf || "",
      },
      body: JSON.stringify({ message: text, thread_id: state.threadId }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      if (response.status === 401) showSignIn("Your session has ended; please sign in again.");
      const wait = response.headers.get("Retry-After");
      const message = (body && body.message) || `Request failed (${response.status})`;
      throw new Error(wait ? `${message} (try again in ${wait} s)` : message);
    }
    await readEvents(response, (event, data) => {
      if (event === "step") {
        steps.append(el("li", { text: data.text }));
      } else if (event === "answer") {
        renderReply(bubble, data, { question: text });
      } else if (event === "error") {
        bubble.classList.add("failed");
        bubble.append(el("p", { class: "error", role: "alert", text: data.message }));
      }
      log.scrollTop = log.scrollHeight;
    });
  } catch (error) {
    bubble.classList.add("failed");
    bubble.append(el("p", { class: "error", role: "alert", text: error.message || "The request failed." }));
  } finally {
    bubble.removeAttribute("aria-busy");
  }
}

async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of chunk.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    }
  }
}

// The answer's own "Sources:" lines (written for Slack and the CLI) when the page lists the sources itself.
function withoutSourceLines(text) {
  const lines = String(text || "").split("\n");
  const at = lines.findIndex((line) => /^\s*Sources:\s*$/.test(line));
  if (at < 0) return text;
  let end = at + 1;
  while (end < lines.length && /^\s*\[\d+\]/.test(lines[end])) end++;
  return [...lines.slice(0, at), ...lines.slice(end)].join("\n").trimEnd();
}

function renderReply(bubble, reply, { reopened = false, question = null } = {}) {
  state.threadId = reply.thread_id;
  const citations = reply.citations || [];
  const answer = el("div", { class: "answer" });
  answer.innerHTML = renderMarkdown(citations.length ? withoutSourceLines(reply.answer) : reply.answer);
  bubble.append(answer);
  answer.querySelectorAll("button.cite").forEach((button) => {
    const citation = citations.find((c) => String(c.number) === button.dataset.cite);
    if (citation) button.addEventListener("click", () => openCitation(citation, button));
    else button.replaceWith(document.createTextNode(button.textContent));
  });
  for (const card of reply.cards || []) {
    const node = renderCard(card);
    if (node) bubble.append(node);
  }
  if (reply.pending_action) bubble.append(actionCard(reply.pending_action));
  if (citations.length) {
    bubble.append(
      el("h3", { class: "visually-hidden", text: "Sources" }),
      el("ol", { class: "references", "aria-label": "Sources" },
        citations.map((c) =>
          el("li", { value: c.number },
            el("button", { type: "button", class: "reference", onclick: (e) => openCitation(c, e.currentTarget) },
              [c.title, c.section].filter(Boolean).join(" — ")),
            c.payer ? el("span", { class: "muted", text: ` (${c.payer})` }) : null))),
    );
  }
  bubble.append(el("div", { class: "answer-tools" }, answerActions(reply, answer, question), feedbackButtons(reply)));
  if (!reopened) loadThreads();
}

// Copy and Regenerate under an answer. Copy takes the answer as the page shows it (no markdown marks), which
// is what a person pastes into a claim note; Regenerate asks the same question again in the same conversation.
function answerActions(reply, answer, question) {
  const status = el("span", { class: "muted action-status", role: "status" });
  const copy = el("button", { type: "button", class: "small", text: "Copy" });
  copy.addEventListener("click", async () => {
    try {
      await copyText(answer.innerText.trim());
      status.textContent = "Copied to the clipboard.";
    } catch (_) {
      status.textContent = "Could not copy: select the text and copy it instead.";
    }
    setTimeout(() => { status.textContent = ""; }, 4000);
  });
  const regenerate = question ? el("button", { type: "button", class: "small", text: "Regenerate" }) : null;
  if (regenerate) {
    regenerate.addEventListener("click", () => {
      if (state.busy) return;
      state.threadId = reply.thread_id; // the same conversation, even if another one was open meanwhile
      submitQuestion(question);
    });
  }
  return el("div", { class: "answer-actions", role: "group", "aria-label": "Answer actions" }, copy, regenerate, status);
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Served over plain HTTP on a LAN address the Clipboard API is missing: the older way still works there.
  const box = el("textarea", { class: "visually-hidden", readonly: true, "aria-hidden": "true" });
  box.value = text;
  document.body.append(box);
  box.select();
  const copied = document.execCommand("copy");
  box.remove();
  if (!copied) throw new Error("copy refused");
}

// Helpful is sent at once; Not helpful first opens a box for what was wrong (optional, up to 2,000 characters:
// the server's limit), sent with it. The comment may name a patient: the server stores it and never logs it.
const MAX_FEEDBACK_COMMENT = 2000;

function feedbackButtons(reply) {
  const box = el("div", { class: "feedback", role: "group", "aria-label": "Was this helpful?" });
  const send = async (value, comment, problemAfter) => {
    try {
      await api(`/api/threads/${encodeURIComponent(reply.thread_id)}/feedback`, {
        method: "POST",
        body: { value, message_id: reply.message_id, comment: comment || null },
      });
      box.replaceChildren(el("span", { class: "muted", role: "status", text: "Thanks for the feedback." }));
    } catch (error) {
      box.querySelector(".feedback-error")?.remove();
      problemAfter.after(el("span", { class: "error feedback-error", role: "alert", text: ` ${error.message}` }));
    }
  };
  const helpful = el("button", { type: "button", class: "small", text: "Helpful" });
  const notHelpful = el("button", { type: "button", class: "small", text: "Not helpful" });
  const buttons = () => { box.replaceChildren(helpful, notHelpful); };
  helpful.addEventListener("click", () => send(1, null, notHelpful));
  notHelpful.addEventListener("click", () => {
    const text = el("textarea", { rows: 3, maxlength: MAX_FEEDBACK_COMMENT, "aria-label": "What was wrong?",
      placeholder: "What was wrong? (optional)" });
    const submit = el("button", { type: "submit", class: "primary small", text: "Send" });
    const cancel = el("button", { type: "button", class: "small", text: "Cancel" });
    const form = el("form", { class: "feedback-comment", "aria-label": "Not helpful" },
      text, el("div", { class: "buttons" }, submit, cancel));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(-1, text.value.trim(), cancel);
    });
    const back = () => { buttons(); notHelpful.focus(); };
    cancel.addEventListener("click", back);
    text.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); back(); }
    });
    box.replaceChildren(form);
    text.focus();
    form.scrollIntoView({ block: "nearest" });
  });
  buttons();
  return box;
}

// ---------------------------------------------------------------------------------------------------
// Citations
let citationOpener = null;

async function openCitation(citation, opener) {
  citationOpener = opener;
  const dialog = $("passage");
  $("passage-title").textContent = citation.title;
  $("passage-meta").textContent = [citation.section, citation.payer,
    citation.effective_from ? `in force from ${citation.effective_from}` : ""].filter(Boolean).join(" · ");
  $("passage-text").textContent = "Loading…";
  $("passage-link").replaceChildren();
  dialog.showModal();
  $("passage-close").focus();
  if (!citation.passage_id) {
    $("passage-text").textContent = citation.source || "";
  } else {
    try {
      const passage = await api(`/api/passages/${encodeURIComponent(citation.passage_id)}`);
      $("passage-text").textContent = passage.text;
      if (passage.url && /^https?:\/\//.test(passage.url)) {
        $("passage-link").append(el("a", { href: passage.url, target: "_blank", rel: "noopener noreferrer", text: "Open the source" }));
      } else if (passage.source) {
        $("passage-link").append(el("span", { class: "muted", text: `Source: ${passage.source}` }));
      }
    } catch (error) {
      $("passage-text").textContent = error.message;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Cards
function renderCard(card) {
  const d = card.data || {};
  switch (card.kind) {
    case "code": return codeCard(d);
    case "codes": return codesCard(d);
    case "claim": return claimCard(d);
    case "claims": return claimsCard(d);
    case "denial": return denialCard(d);
    case "worklist": return worklistCard(d);
    case "adjustment_codes": return adjustmentCodesCard(d);
    case "letter": return letterCard(d);
    default: return null; // passages are shown as numbered sources
  }
}

function codeCard(d) {
  const badges = [];
  if (d.valid === false) badges.push(el("span", { class: "badge bad", text: "not found" }));
  else if (d.billable === true) badges.push(el("span", { class: "badge ok", text: "billable" }));
  else if (d.billable === false) badges.push(el("span", { class: "badge warn", text: "header — not billable" }));
  const allNotes = d.notes || [];
  const notes = allNotes.slice(0, 8);
  const children = (d.children || []).slice(0, 8);
  const noteItem = (n) => el("li", {}, el("strong", { text: `${label(n.kind)}: ` }), n.text);
  return el("section", { class: "card code", "aria-label": `Code ${d.code}` },
    el("h3", {}, `${d.code} `, el("span", { class: "muted", text: d.system_name || d.system }), badges),
    el("p", { text: d.description || "" }),
    notes.length ? el("ul", { "aria-label": "Notes" }, notes.map(noteItem)) : null,
    // Never fewer notes than the code has without saying so: the rest open under "All notes".
    allNotes.length > notes.length ? el("details", {}, el("summary", { text: `All notes (${allNotes.length})` }),
      el("ul", { "aria-label": "All notes" }, allNotes.map(noteItem))) : null,
    children.length ? el("details", {}, el("summary", { text: `More specific codes (${(d.children || []).length})` }),
      el("ul", {}, children.map((c) => el("li", { text: `${c.code} — ${c.description}` })))) : null,
    (d.messages || []).length ? el("p", { class: "muted", text: d.messages.join(" ") }) : null,
  );
}

function codesCard(d) {
  const hits = d.hits || [];
  return el("section", { class: "card codes", "aria-label": "Codes found" },
    el("h3", { text: `Codes for “${d.query}”` }),
    el("ul", {}, hits.map((h) =>
      el("li", {}, el("strong", { text: h.code }), ` ${h.description} `,
        h.billable === false ? el("span", { class: "badge warn", text: "header" }) : null,
        h.reason ? el("div", { class: "muted", text: h.reason }) : null))),
    // What the question leaves open (side, 7th character): asked, never guessed.
    (d.ask || []).length ? el("ul", { "aria-label": "To ask" }, d.ask.map((q) => el("li", { class: "ask", text: q }))) : null,
  );
}

function balancesList(b) {
  if (!b) return null;
  return definitions([
    ["Billed", money(b.billed)],
    ["Payer paid", money(b.payer_paid)],
    ["Adjusted", money(b.adjusted)],
    ["Patient responsibility", money(b.patient_responsibility)],
    ["Patient paid", money(b.patient_paid)],
    ["Insurance balance", money(b.insurance_balance)],
    ["Patient balance", money(b.patient_balance)],
  ]);
}

function claimCard(d) {
  const remit = (d.remittances || [])[d.remittances.length - 1];
  const adjustments = remit ? remit.adjustments || [] : [];
  const card = el("section", { class: "card claim", "aria-label": `Claim ${d.claim_number}`, "data-claim": d.claim_number },
    el("h3", {}, `Claim ${d.claim_number} `, el("span", { class: `badge ${statusTone(d.status)}`, text: label(d.status) })),
    definitions([
      ["Patient", d.patient ? d.patient.name : ""],
      ["Payer", d.payer],
      ["Service date", d.service_date_from],
    ]),
    balancesList(d.balances),
    adjustments.length ? el("p", {}, el("strong", { text: "Adjustments: " }),
      adjustments.map((a) => `${a.group_code}-${a.reason_code} ${money(a.amount)}`).join(", ")) : null,
    remit && (remit.remark_codes || []).length ? el("p", { text: `Remarks: ${remit.remark_codes.join(", ")}` }) : null,
  );
  return card;
}

function statusTone(status) {
  if (["paid", "closed", "accepted"].includes(status)) return "ok";
  if (["denied", "rejected", "reversed"].includes(status)) return "bad";
  return "warn";
}

function claimsCard(d) {
  return el("section", { class: "card claims", "aria-label": "Claims found" },
    el("h3", { text: `Claims (${d.total ?? (d.claims || []).length})` }),
    el("ul", {}, (d.claims || []).map((c) =>
      el("li", { text: `${c.claim_number} · ${c.service_date} · ${c.payer} · ${label(c.status)} · balance ${money(c.balance)}` }))),
  );
}

function denialCard(d) {
  const decoded = d.decoded || [];
  return el("section", { class: "card denial", "aria-label": `Denial of claim ${d.claim_number}` },
    el("h3", {}, `Claim ${d.claim_number} `, el("span", { class: `badge ${d.denied ? "bad" : statusTone(d.status)}`, text: label(d.status) })),
    definitions([
      ["Payer", d.payer],
      ["Service date", d.service_date],
      ["Remittance", d.remittance_date],
      ["At stake", money(d.amount_at_stake)],
      ["Next step", d.next_step],
      ["Deadline", d.deadline ? `${label(d.deadline.kind)} by ${d.deadline.date} (${d.deadline.days_left} days left)` : ""],
    ]),
    decoded.length ? el("ul", { "aria-label": "Codes on the remittance" },
      decoded.map((c) => el("li", {}, el("strong", { text: `${c.code} ` }), c.description))) : null,
  );
}

function worklistCard(d) {
  const items = d.items || [];
  const shown = items.slice(0, 15);
  return el("section", { class: "card worklist", "aria-label": "Denial worklist" },
    el("h3", { text: `Denials to work: ${d.total_claims} (${money(d.total_amount)})` }),
    el("ul", {}, shown.map((item) =>
      el("li", { text: `${item.claim_number} · ${item.payer} · ${item.reason} · ${money(item.amount)} · ${item.next_action}` +
        (item.deadline ? ` · by ${item.deadline}` : "") }))),
    el("p", { class: "card-note" },
      shown.length < d.total_claims ? `Showing ${shown.length} of ${d.total_claims}. ` : "",
      // Every open denial as a spreadsheet (the same rows, from /api/worklists/denials).
      el("a", { href: "/api/worklists/denials?format=csv", download: "", text: "Download all as CSV" })),
  );
}

function adjustmentCodesCard(d) {
  return el("section", { class: "card adjustment-codes", "aria-label": "Adjustment codes" },
    el("ul", {}, (d.items || []).map((c) => el("li", {}, el("strong", { text: `${c.code} ` }), c.description))),
  );
}

// A drafted appeal letter: download it as filed, or edit its text (PUT; the server allows its author only).
function letterCard(d) {
  if (!Number.isInteger(d.letter_id)) return null;
  const path = `/api/appeals/${d.letter_id}`;
  const status = el("span", { class: `badge ${d.status === "sent" ? "ok" : "warn"}`, text: label(d.status) });
  const outcome = el("p", { class: "outcome", role: "status" });
  const edit = el("button", { type: "button", text: "Edit" });
  const editor = el("div", { class: "letter-editor", hidden: true });
  const card = el("section", { class: "card letter", "aria-label": `Appeal letter ${d.letter_id}`, "data-letter": d.letter_id },
    el("h3", {}, `${d.title || `Appeal letter ${d.letter_id}`} `, status),
    el("div", { class: "buttons" },
      (d.downloads || ["docx", "pdf"]).map((format) =>
        el("a", { href: `${path}/download?format=${encodeURIComponent(format)}`, download: "", text: `Download ${format.toUpperCase()}` })),
      edit),
    editor,
    outcome,
  );
  edit.addEventListener("click", async () => {
    outcome.textContent = "";
    outcome.classList.remove("error");
    try {
      const letter = await api(path);
      const box = el("textarea", { rows: 16, "aria-label": "Letter text", maxlength: 60000 });
      box.value = letter.body;
      const save = el("button", { type: "button", class: "primary", text: "Save" });
      const close = el("button", { type: "button", text: "Cancel" });
      close.addEventListener("click", () => { editor.hidden = true; editor.replaceChildren(); edit.disabled = false; });
      save.addEventListener("click", async () => {
        save.disabled = true;
        try {
          const saved = await api(path, { method: "PUT", body: { body: box.value } });
          outcome.textContent = `Saved. The downloads now hold this text (${saved.body.length} characters).`;
          close.click();
        } catch (error) {
          outcome.classList.add("error");
          outcome.textContent = error.message;
          save.disabled = false;
        }
      });
      editor.replaceChildren(box, el("div", { class: "buttons" }, save, close));
      editor.hidden = false;
      edit.disabled = true;
      box.focus();
    } catch (error) {
      outcome.classList.add("error");
      outcome.textContent = error.message;
    }
  });
  return card;
}

function actionCard(action) {
  const outcome = el("p", { class: "outcome", role: "status" });
  const confirm = el("button", { type: "button", class: "primary", text: "Confirm" });
  const cancel = el("button", { type: "button", class: "danger", text: "Cancel" });
  const card = el("section", { class: "card action", "aria-label": "Waiting for confirmation", "data-action": action.id },
    el("h3", { text: "Please confirm" }),
    el("p", { text: action.summary }),
    (action.required_roles || []).length ? el("p", { class: "muted", text: `May confirm: ${action.required_roles.map(label).join(", ")}` }) : null,
    el("div", { class: "buttons" }, confirm, cancel),
    outcome,
  );
  const decide = async (verb) => {
    confirm.disabled = cancel.disabled = true;
    outcome.classList.remove("error");
    try {
      const result = await api(`/api/actions/${encodeURIComponent(action.id)}/${verb}`, { method: "POST" });
      outcome.textContent = result.message;
      if (result.status === "failed") outcome.classList.add("error");
      const claimNumber = action.arguments && action.arguments.claim_number;
      const jobId = result.result && result.result.job_id;
      if (result.status === "confirmed" && jobId) followJob(jobId, card);
      if (result.status === "confirmed" && claimNumber) {
        try {
          const claim = await api(`/api/claims/${encodeURIComponent(claimNumber)}`);
          const updated = claimCard(claim);
          card.after(updated);
          updated.scrollIntoView({ block: "nearest" });
        } catch (_) { /* the confirmation message stands on its own */ }
      }
    } catch (error) {
      outcome.classList.add("error");
      outcome.setAttribute("role", "alert");
      outcome.textContent = error.message;
      if (error.status !== 403 && error.status !== 404) confirm.disabled = cancel.disabled = false;
      else cancel.disabled = false;
    }
    outcome.focus();
  };
  outcome.tabIndex = -1;
  confirm.addEventListener("click", () => decide("confirm"));
  cancel.addEventListener("click", () => decide("cancel"));
  return card;
}

// A large import queued as a background job (GET /api/jobs/{id}): one progress line under the card,
// refreshed until the job is done or failed.
const JOB_POLL_MS = 1000;

function followJob(jobId, card) {
  const line = el("p", { class: "job-progress", role: "status", "aria-live": "polite", "data-job": String(jobId) });
  line.textContent = `Import job ${jobId} is queued.`;
  card.after(line);
  const poll = async () => {
    try {
      const job = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
      line.textContent = job.progress_line;
      line.dataset.status = job.status;
      if (job.status === "failed") line.classList.add("error");
      if (job.status !== "done" && job.status !== "failed") setTimeout(poll, JOB_POLL_MS);
    } catch (error) {
      // A lost connection is retried; a job this user may not see (403/404) is not.
      if (error.status === 403 || error.status === 404) line.textContent = error.message;
      else setTimeout(poll, JOB_POLL_MS * 3);
    }
  };
  poll();
}

// ---------------------------------------------------------------------------------------------------
// Worklists: the denial worklist, A/R aging and timely-filing risk as tables a biller keeps open
// (GET /api/worklists/{kind}: sorted and paged by the server, with the totals of every matching claim).
// Rows hold claim numbers, payers, dates and amounts; the API sends no patient field and none is shown.
const WORKLIST_PAGE_SIZE = 50;
const WORKLISTS = {
  denials: { name: "Open denials", totals: (n) => `${n} open denial${n === 1 ? "" : "s"}`, ask: (c) => `why was claim ${c} denied?` },
  aging: { name: "A/R aging", totals: (n) => `${n} claim${n === 1 ? "" : "s"} with an open balance`, ask: (c) => `status of claim ${c}` },
  "filing-risk": {
    name: "Timely-filing risk",
    totals: (n, f) => `${n} claim${n === 1 ? "" : "s"} near or past the filing limit (${f.within_days || 30} days)`,
    ask: (c) => `status of claim ${c}`,
  },
};
const COLUMN_NAMES = {
  claim_number: "Claim", payer: "Payer", service_date: "Service date", denied_on: "Denied on", reason: "Reason",
  remark_codes: "Remarks", amount: "Amount", next_action: "Next action", deadline: "Deadline", days_left: "Days left",
  status: "Status", days: "Days old", bucket: "Age", insurance_balance: "Insurance balance",
  patient_balance: "Patient balance", balance: "Balance", submitted_on: "Submitted", limit_days: "Filing limit (days)",
  deadline_passed: "Deadline passed", status_note: "Note",
};
const MONEY_COLUMNS = new Set(["amount", "insurance_balance", "patient_balance", "balance"]);
const NUMBER_COLUMNS = new Set(["days_left", "days", "limit_days"]);
const worklist = { kind: "denials", sort: null, order: null, page: 1, ticket: 0, focus: null, filters: {} };

function showWorklists(show) {
  $("worklists").hidden = !show;
  document.querySelector(".chat").hidden = show;
  $("open-worklists").setAttribute("aria-current", show ? "page" : "false");
  if (show) {
    closeThreadsOnNarrow();
    selectWorklist(worklist.kind, { focusTab: false });
    $("worklists-title").focus();
  }
}

function selectWorklist(kind, { focusTab = true } = {}) {
  if (kind !== worklist.kind) Object.assign(worklist, { kind, sort: null, order: null, page: 1, filters: {} });
  for (const tab of document.querySelectorAll("#worklists [role=tab]")) {
    const selected = tab.dataset.kind === kind;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected) {
      $("worklist-panel").setAttribute("aria-labelledby", tab.id);
      if (focusTab) tab.focus();
    }
  }
  loadWorklist();
}

// The tabs pattern: arrow keys move between the tabs (and show each), Home and End go to the ends.
function onWorklistTabKey(event) {
  const tabs = [...document.querySelectorAll("#worklists [role=tab]")];
  const at = tabs.indexOf(event.target);
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (to === undefined || at < 0) return;
  event.preventDefault();
  selectWorklist(tabs[(to + tabs.length) % tabs.length].dataset.kind);
}

function worklistQuery(extra = {}) {
  const params = new URLSearchParams();
  if (worklist.sort) params.set("sort", worklist.sort);
  if (worklist.order) params.set("order", worklist.order);
  for (const [key, value] of Object.entries(worklist.filters)) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  for (const [key, value] of Object.entries(extra)) params.set(key, String(value));
  return `/api/worklists/${worklist.kind}?${params}`;
}

async function loadWorklist() {
  const ticket = ++worklist.ticket;
  const panel = $("worklist-panel");
  panel.setAttribute("aria-busy", "true");
  const kind = worklist.kind;
  let body;
  let trend = null;
  try {
    [body, trend] = await Promise.all([
      api(worklistQuery({ page: worklist.page, page_size: WORKLIST_PAGE_SIZE })),
      kind === "denials" ? api(denialTrendQuery()).catch(() => null) : null,
    ]);
  } catch (error) {
    if (ticket !== worklist.ticket) return;
    panel.replaceChildren(el("p", { class: "error", role: "alert", text: error.message }));
    panel.removeAttribute("aria-busy");
    return;
  }
  if (ticket !== worklist.ticket) return; // another tab, sort or page was asked for meanwhile
  worklist.sort = body.sort;
  worklist.order = body.order;
  panel.replaceChildren(...worklistView(body, trend));
  panel.removeAttribute("aria-busy");
  const focus = worklist.focus;
  worklist.focus = null;
  // Focus stays where the person was: the header just sorted, the page button pressed (or, on the last or
  // first page where that one is disabled, the other one).
  if (focus) (panel.querySelector(`${focus}:not(:disabled)`) || panel.querySelector(".pager button:not(:disabled)"))?.focus();
}

// The trend follows the filters of the list it stands beside (payer, reason).
function denialTrendQuery() {
  const params = new URLSearchParams();
  for (const key of ["payer", "reason"]) if (worklist.filters[key]) params.set(key, worklist.filters[key]);
  return `/api/worklists/denials/by-month${params.size ? `?${params}` : ""}`;
}

// Filters above each list: the payer (from the practice's payers) and what that list narrows by. The
// server applies them, so the totals, the pages and the CSV are all of the filtered list.
const WORKLIST_FILTERS = {
  denials: [{ name: "reason", label: "Reason (CARC)", type: "text", placeholder: "e.g. CO-16", size: 8 }],
  aging: [
    { name: "responsibility", label: "Owed by", type: "select", options: [["", "Insurance and patient"], ["insurance", "Insurance"], ["patient", "Patient"]] },
    { name: "older_than_days", label: "Older than (days)", type: "number", min: 0, max: 3650 },
  ],
  "filing-risk": [{ name: "within_days", label: "Deadline within (days)", type: "number", min: 1, max: 365 }],
};

function worklistFilters(body) {
  const field = (id, text, control) => el("label", { class: "filter", for: id }, text, control);
  const payer = el("select", { id: "filter-payer", name: "payer" },
    el("option", { value: "", text: "All payers" }),
    (body.payers || []).map((name) => el("option", { value: name, text: name })));
  payer.value = body.filters?.payer || "";
  const fields = [field("filter-payer", "Payer", payer)];
  for (const spec of WORKLIST_FILTERS[body.kind] || []) {
    const id = `filter-${spec.name}`;
    let control;
    if (spec.type === "select") {
      control = el("select", { id, name: spec.name }, spec.options.map(([value, text]) => el("option", { value, text })));
    } else {
      control = el("input", { id, name: spec.name, type: spec.type, placeholder: spec.placeholder || null,
        size: spec.size || null, min: spec.min ?? null, max: spec.max ?? null, inputmode: spec.type === "number" ? "numeric" : null });
    }
    const value = body.filters?.[spec.name];
    control.value = value === null || value === undefined ? "" : String(value);
    fields.push(field(id, spec.label, control));
  }
  const form = el("form", { class: "worklist-filters", "aria-label": "Filters" }, fields,
    el("button", { type: "submit", class: "small", text: "Apply" }),
    el("button", { type: "button", class: "small ghost", text: "Clear", disabled: !Object.values(worklist.filters).some((v) => v !== "" && v !== null && v !== undefined),
      onclick: () => { worklist.filters = {}; worklist.page = 1; worklist.focus = "#filter-payer"; loadWorklist(); } }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const filters = {};
    for (const [key, value] of new FormData(form)) if (String(value).trim()) filters[key] = String(value).trim();
    worklist.filters = filters;
    worklist.page = 1;
    worklist.focus = ".worklist-filters button[type=submit]";
    loadWorklist();
  });
  return form;
}

function worklistView(body, trend) {
  const spec = WORKLISTS[body.kind];
  const first = body.total_rows ? (body.page - 1) * body.page_size + 1 : 0;
  const last = Math.min(body.page * body.page_size, body.total_rows);
  const totals = el("p", { class: "worklist-totals", id: "worklist-totals" },
    el("strong", { text: `${spec.totals(body.total_claims, body.filters || {})}: ${money(body.total_amount)}` }),
    body.truncated ? ` (the first ${body.total_rows} are listed: ask the chat by payer for the rest)` : "");
  const csv = el("a", { href: worklistQuery({ format: "csv" }), download: "", class: "csv", text: "Download all as CSV" });
  const pager = el("nav", { class: "pager", "aria-label": "Pages" },
    el("button", { type: "button", class: "small", "data-page": "previous", disabled: body.page <= 1,
      onclick: () => goToPage(body.page - 1, "[data-page=previous]") }, "Previous"),
    el("span", { class: "range", role: "status", text: `${first}-${last} of ${body.total_rows}` }),
    el("button", { type: "button", class: "small", "data-page": "next", disabled: body.page >= body.pages,
      onclick: () => goToPage(body.page + 1, "[data-page=next]") }, "Next"));
  return [
    worklistFilters(body),
    totals,
    trend ? denialTrend(trend) : null,
    worklistTable(body, spec),
    el("div", { class: "worklist-foot" }, pager, csv),
  ].filter(Boolean);
}

function goToPage(page, focus) {
  worklist.page = page;
  worklist.focus = focus;
  loadWorklist();
}

function sortBy(column) {
  const same = worklist.sort === column;
  worklist.order = same && worklist.order === "asc" ? "desc" : "asc";
  worklist.sort = column;
  worklist.page = 1;
  worklist.focus = `th[data-column="${column}"] button`;
  loadWorklist();
}

function worklistTable(body, spec) {
  const header = body.columns.map((column) => {
    const sorted = column === body.sort;
    return el("th", {
      scope: "col",
      "data-column": column,
      class: MONEY_COLUMNS.has(column) || NUMBER_COLUMNS.has(column) ? "num" : null,
      "aria-sort": sorted ? (body.order === "asc" ? "ascending" : "descending") : null,
    }, el("button", { type: "button", class: "sort", onclick: () => sortBy(column) },
      COLUMN_NAMES[column] || label(column),
      el("span", { class: "sort-mark", "aria-hidden": "true", text: sorted ? (body.order === "asc" ? " ▲" : " ▼") : "" })));
  });
  const rows = body.rows.map((row) => el("tr", {}, body.columns.map((column) => worklistCell(column, row[column], spec))));
  if (!rows.length) {
    rows.push(el("tr", {}, el("td", { colspan: body.columns.length, class: "muted", text: "No claims on this worklist." })));
  }
  return el("div", { class: "table-wrap" },
    el("table", { class: "worklist-table", "aria-label": spec.name, "aria-describedby": "worklist-totals" },
      el("thead", {}, el("tr", {}, header)),
      el("tbody", {}, rows)));
}

function worklistCell(column, value, spec) {
  if (column === "claim_number") {
    // The claim number asks the chat about that claim, in a new conversation.
    return el("td", {}, el("button", { type: "button", class: "claim-link", title: `Ask about claim ${value}`,
      onclick: () => askAboutClaim(spec.ask(value)) }, value));
  }
  let text = value === null || value === undefined ? "" : String(value);
  if (MONEY_COLUMNS.has(column)) text = money(value);
  else if (typeof value === "boolean") text = value ? "yes" : "no";
  else if (column === "status" || column === "next_action") text = label(value);
  return el("td", { class: MONEY_COLUMNS.has(column) || NUMBER_COLUMNS.has(column) ? "num" : null, text });
}

function askAboutClaim(question) {
  if (state.busy) return;
  showWorklists(false);
  newThread();
  submitQuestion(question);
}

// Denials by month as a bar chart, drawn by hand in inline SVG: the page loads nothing from the internet and
// has no build step, so a chart library would have to be vendored, and two rows of bars need none. The
// same figures are in a table under it (and in the chart's label) for screen readers and for copying.
const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function monthName(month, withYear = true) {
  const [year, number] = month.split("-");
  return withYear ? `${MONTH_NAMES[Number(number) - 1]} ${year}` : MONTH_NAMES[Number(number) - 1];
}

function denialTrend(trend) {
  const months = trend.months || [];
  if (!months.length) return null;
  const figures = months.map((m) => `${monthName(m.month)}: ${m.claims} denial${m.claims === 1 ? "" : "s"}, ${money(m.amount)}`);
  const width = 720, left = 64, right = 8, barsTop = 8, rowHeight = 70, gap = 22, axis = 20;
  const slot = (width - left - right) / months.length;
  const maxClaims = Math.max(1, ...months.map((m) => m.claims));
  const maxAmount = Math.max(1, ...months.map((m) => Number(m.amount)));
  const height = barsTop + rowHeight * 2 + gap + axis;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "trend-chart", role: "img",
    "aria-label": `Open denials by the month they were denied. ${figures.join("; ")}.`,
  });
  const rows = [
    { top: barsTop, name: "Denials", max: maxClaims, value: (m) => m.claims, scale: String(maxClaims), cls: "bar-count" },
    { top: barsTop + rowHeight + gap, name: "Amount", max: maxAmount, value: (m) => Number(m.amount), scale: money(maxAmount).replace(/\.00$/, ""), cls: "bar-amount" },
  ];
  for (const row of rows) {
    const base = row.top + rowHeight;
    chart.append(
      svg("text", { x: left - 6, y: row.top + 10, "text-anchor": "end", class: "axis" }, row.scale),
      svg("text", { x: left - 6, y: base, "text-anchor": "end", class: "axis" }, row.name),
      svg("line", { x1: left, x2: width - right, y1: base, y2: base, class: "baseline" }),
    );
    months.forEach((m, i) => {
      const h = (row.value(m) / row.max) * rowHeight;
      const bar = svg("rect", {
        x: left + i * slot + slot * 0.15, y: base - h, width: slot * 0.7, height: h, class: row.cls,
        "data-month": m.month,
      }, svg("title", {}, figures[i]));
      chart.append(bar);
    });
  }
  months.forEach((m, i) => {
    const january = m.month.endsWith("-01") || i === 0;
    chart.append(svg("text", { x: left + i * slot + slot / 2, y: height - 4, "text-anchor": "middle", class: "axis" },
      monthName(m.month, false) + (january ? ` ${m.month.slice(2, 4)}` : "")));
  });
  const table = el("table", { class: "trend-table" },
    el("caption", { class: "visually-hidden", text: "Open denials by month denied" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Month" }), el("th", { scope: "col", class: "num", text: "Denials" }),
      el("th", { scope: "col", class: "num", text: "Amount" }))),
    el("tbody", {}, months.map((m) => el("tr", { "data-month": m.month },
      el("th", { scope: "row", text: monthName(m.month) }), el("td", { class: "num", text: String(m.claims) }),
      el("td", { class: "num", text: money(m.amount) })))));
  const outside = trend.outside_claims
    ? el("p", { class: "card-note", text: `${trend.outside_claims} more open denial${trend.outside_claims === 1 ? "" : "s"} (${money(trend.outside_amount)}) ${trend.outside_claims === 1 ? "was" : "were"} denied before ${monthName(months[0].month)}.` })
    : null;
  return el("figure", { class: "trend", "aria-labelledby": "trend-title" },
    el("figcaption", { id: "trend-title", text: `Open denials by month denied, ${monthName(months[0].month)} to ${monthName(months[months.length - 1].month)}` }),
    chart,
    el("details", {}, el("summary", { text: "The figures as a table" }), table),
    outside);
}

// ---------------------------------------------------------------------------------------------------
// Search indexes still being built after the server started (GET /api/health `indexing`): a banner says
// what is not complete yet and how far it is, until every part is ready. Claims, lookups and keyword code
// search work meanwhile. The page asks again every few seconds and stops once nothing is left to build.
const INDEX_POLL_MS = 3000;
const INDEX_PARTS = [
  ["knowledge", "Policy search", "passages"],
  ["codes", "Search by meaning for codes", "code descriptions"],
];

function indexingText(indexing) {
  const parts = [];
  for (const [key, name, units] of INDEX_PARTS) {
    const part = indexing[key];
    if (!part || part.state === "ready" || part.state === "off") continue;
    const count = part.total ? ` (${part.done.toLocaleString()} of ${part.total.toLocaleString()} ${units})` : "";
    if (part.state === "failed") parts.push(`${name} could not be built (see the server log).`);
    else if (part.state === "pending") parts.push(`${name}: waiting to be built.`);
    else parts.push(`${name}: being built${count}.`);
  }
  return parts.length ? `Still preparing: ${parts.join(" ")} Claims, lookups and keyword code search work now.` : "";
}

async function watchIndexing() {
  let indexing = null;
  try {
    const response = await fetch("/api/health", { headers: { Accept: "application/json" } });
    indexing = ((await response.json()) || {}).indexing || null;
  } catch (_) {
    setTimeout(watchIndexing, INDEX_POLL_MS * 3); // the server is restarting: ask again later
    return;
  }
  const banner = $("index-banner");
  const text = indexing ? indexingText(indexing) : "";
  banner.textContent = text;
  banner.hidden = !text;
  if (indexing && !indexing.ready) setTimeout(watchIndexing, INDEX_POLL_MS);
}

// ---------------------------------------------------------------------------------------------------
// Wiring
function onSubmit(event) {
  event.preventDefault();
  const box = $("message");
  const text = box.value.trim();
  if (!text || state.busy) return;
  box.value = "";
  submitQuestion(text);
}

// One question at a time, from the composer, Regenerate or a worklist's claim number.
function submitQuestion(text) {
  if (state.busy) return Promise.resolve();
  state.busy = true;
  $("send").disabled = true;
  return ask(text).finally(() => {
    state.busy = false;
    $("send").disabled = false;
    $("message").focus();
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  $("signin-form").addEventListener("submit", signIn);
  $("composer").addEventListener("submit", onSubmit);
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("signout").addEventListener("click", signOut);
  $("new-thread").addEventListener("click", newThread);
  $("open-worklists").addEventListener("click", () => showWorklists(true));
  $("close-worklists").addEventListener("click", () => { showWorklists(false); $("message").focus(); });
  for (const tab of document.querySelectorAll("#worklists [role=tab]")) {
    tab.addEventListener("click", () => selectWorklist(tab.dataset.kind));
    tab.addEventListener("keydown", onWorklistTabKey);
  }
  $("thread-search").addEventListener("input", onSearchInput);
  $("thread-search").addEventListener("keydown", onSearchKey);
  $("delete-thread").addEventListener("close", onDeleteDialogClosed);
  $("toggle-threads").addEventListener("click", () => {
    const open = $("threads").classList.toggle("open");
    $("toggle-threads").setAttribute("aria-expanded", String(open));
  });
  $("passage").addEventListener("close", () => { if (citationOpener) citationOpener.focus(); });
  watchIndexing();
  try {
    showApp(await api("/api/me"));
  } catch (_) {
    showSignIn("");
  }
});
