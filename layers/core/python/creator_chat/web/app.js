// creator-chat web client: a plain ES module, no framework, no build step.
// Everything that comes from the API is inserted as text (textContent), never as HTML.

import { $, ApiError, announce, apiClient, clock, describe, h, jwtClaims, safeUrl } from "/common.js";

const SESSION_KEY = "creator-chat.session";
const POLL_MS = 1000;
const POLL_LIMIT = 150; // a queued answer is polled for about four minutes
const SLUG_PATH = /^\/c\/([a-z0-9][a-z0-9-]{1,62})\/?$/;

const state = {
  // stream_url: the WebSocket API (streamed answers); unset → /v1/stream on this host when
  // the API is same-origin, else none (then answers come whole over HTTP)
  config: { api_base: "", dev_sign_in: false, sign_in_url: null, stream_url: null },
  session: null, // {token, user_id, tier, exp}
  creator: null,
  threadId: null,
  busy: false,
  embed: new URLSearchParams(location.search).get("embed") === "1",
};

// -- small helpers ------------------------------------------------------------------------


const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));





function showView(id) {
  for (const view of ["loading", "sign-in", "picker", "chat"]) $(view).hidden = view !== id;
}

// -- the API ------------------------------------------------------------------------------

// the page's API calls: its session's token, and a sign-out when the token is refused
const { api, apiUrl } = apiClient(state, () =>
  signOut("Your sign-in has expired. Please sign in again.", { revoke: false }));


// -- session ------------------------------------------------------------------------------

function loadSession() {
  // Cognito's hosted UI comes back with #id_token=... (implicit grant)
  const fragment = new URLSearchParams(location.hash.slice(1));
  const idToken = fragment.get("id_token");
  if (idToken) {
    const claims = jwtClaims(idToken) || {};
    saveSession({
      token: idToken,
      user_id: claims.email || claims["cognito:username"] || claims.sub || "you",
      tier: claims["custom:tier"] || claims.tier || "free",
      exp: claims.exp || 0,
    });
    history.replaceState(null, "", location.pathname + location.search);
  }
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    if (saved && saved.token && (!saved.exp || saved.exp * 1000 > Date.now() + 60000)) {
      state.session = saved;
    } else {
      localStorage.removeItem(SESSION_KEY);
    }
  } catch {
    state.session = null;
  }
}

function saveSession(session) {
  state.session = session;
  try {
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // storage may be blocked (e.g. some embedded contexts): keep it for this page only
  }
}

function renderSessionBar() {
  const signedIn = Boolean(state.session);
  $("signed-in").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("signed-in").textContent = signedIn
    ? `Signed in as ${state.session.user_id} (${state.session.tier})`
    : "";
}

function signOut(message = "", { revoke = true } = {}) {
  if (revoke && state.session) {
    api("/v1/sessions/current", { method: "DELETE" }).catch(() => {});
  }
  state.session = null;
  try {
    localStorage.removeItem(SESSION_KEY);
  } catch {
    // nothing stored
  }
  renderSessionBar();
  showSignIn(message);
}

function showSignIn(message = "") {
  const { dev_sign_in: dev, sign_in_url: hosted } = state.config;
  $("dev-sign-in").hidden = !dev;
  $("hosted-sign-in").hidden = !hosted;
  $("no-sign-in").hidden = Boolean(dev || hosted);
  if (hosted) {
    const link = $("hosted-sign-in-link");
    link.href = safeUrl(hosted) || "/";
    if (state.embed) link.target = "_blank";
  }
  $("sign-in-error").textContent = message;
  if (!$("dev-user").value) $("dev-user").value = `fan-${Math.random().toString(36).slice(2, 8)}`;
  showView("sign-in");
}

async function devSignIn(event) {
  event.preventDefault();
  const user = $("dev-user");
  const error = $("sign-in-error");
  if (!user.checkValidity()) {
    error.textContent = "Enter a user id: letters, digits and _ . @ - (up to 64).";
    user.setAttribute("aria-invalid", "true");
    user.focus();
    return;
  }
  user.removeAttribute("aria-invalid");
  const button = event.submitter || $("dev-sign-in").querySelector("button");
  button.disabled = true;
  try {
    // the local gateway's own route: always on this origin, never on a deployed API
    const response = await fetch("/local/dev-token", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ user_id: user.value.trim(), tier: $("dev-tier").value }),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok || !data || !data.token) throw new ApiError(response, data);
    const claims = jwtClaims(data.token) || {};
    saveSession({ token: data.token, user_id: data.user_id, tier: data.tier, exp: claims.exp || 0 });
    error.textContent = "";
    renderSessionBar();
    await route({ focus: true });
  } catch (err) {
    error.textContent = `Could not sign in: ${describe(err)}`;
  } finally {
    button.disabled = false;
  }
}

// -- creators -----------------------------------------------------------------------------

async function showPicker({ focus = false } = {}) {
  const list = $("creator-list");
  list.replaceChildren(h("li", { class: "hint" }, "Loading creators…"));
  $("picker-error").textContent = "";
  showView("picker");
  document.title = "Creator chat";
  try {
    const { data } = await api("/v1/creators");
    list.replaceChildren();
    for (const creator of data.creators) {
      list.append(
        h("li", {},
          h("button", { type: "button", onclick: () => pickCreator(creator.slug) },
            h("span", { class: "name" }, creator.name),
            h("span", { class: "specialty" }, creator.specialty || creator.description))));
    }
    if (!data.creators.length) $("picker-error").textContent = "No creators are available yet.";
  } catch (err) {
    list.replaceChildren();
    if (state.session) $("picker-error").textContent = describe(err);
  }
  if (focus) list.querySelector("button")?.focus();
}

function pickCreator(slug) {
  history.pushState(null, "", `/c/${encodeURIComponent(slug)}${state.embed ? "?embed=1" : ""}`);
  route({ focus: true });
}

async function openCreator(slug, { focus = false } = {}) {
  let creator;
  try {
    ({ data: creator } = await api(`/v1/creators/${encodeURIComponent(slug)}`));
  } catch (err) {
    if (!state.session) return;
    await showPicker();
    $("picker-error").textContent = err.status === 404 ? `There is no creator called “${slug}”.` : describe(err);
    return;
  }
  state.creator = creator;
  document.title = `Ask ${creator.name} · Creator chat`;
  $("chat-title").textContent = `Ask ${creator.name}`;
  $("chat-specialty").textContent = creator.specialty;
  $("question-label").textContent = `Your question for ${creator.name}`;
  startThread();
  showView("chat");
  await loadThreads();
  if (focus) $("question").focus();
}

// -- threads ------------------------------------------------------------------------------

async function loadThreads() {
  const list = $("thread-list");
  try {
    const { data } = await api("/v1/threads?limit=50");
    const mine = data.threads.filter((t) => t.creator_id === state.creator.creator_id);
    list.replaceChildren(
      ...mine.map((t) =>
        h("li", {},
          h("button", {
            type: "button",
            "data-thread": t.thread_id,
            "aria-current": t.thread_id === state.threadId ? "true" : null,
            onclick: () => openThread(t.thread_id, t.title),
          },
          t.title || "Untitled conversation",
          h("span", { class: "when" }, new Date(t.last_activity_at * 1000).toLocaleString(undefined, {
            dateStyle: "medium",
            timeStyle: "short",
          }))))));
    $("threads-empty").hidden = mine.length > 0;
  } catch {
    $("threads-empty").hidden = false;
  }
}

function markCurrentThread() {
  for (const button of $("thread-list").querySelectorAll("button")) {
    if (button.dataset.thread === state.threadId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function startThread() {
  state.threadId = null;
  $("log").replaceChildren();
  $("notice").textContent = "";
  markCurrentThread();
}

async function openThread(threadId, title) {
  state.threadId = threadId;
  markCurrentThread();
  toggleThreads(false);
  $("notice").textContent = "";
  try {
    const { data } = await api(`/v1/threads/${encodeURIComponent(threadId)}/messages?limit=200`);
    $("log").replaceChildren(...data.messages.map(renderMessage));
    announce(`Opened the conversation “${title}”, ${data.messages.length} messages.`);
    $("log").lastElementChild?.scrollIntoView({ block: "nearest" });
  } catch (err) {
    $("notice").textContent = describe(err);
  }
}

function toggleThreads(open) {
  const button = $("threads-toggle");
  const next = open === undefined ? button.getAttribute("aria-expanded") !== "true" : open;
  button.setAttribute("aria-expanded", String(next));
  $("threads").classList.toggle("open", next);
  if (next && open === undefined) loadThreads(); // opened by hand: bring the list up to date
}

// -- messages -----------------------------------------------------------------------------

function renderMessage(m) {
  if (m.role === "user") {
    return h("li", { class: "msg user" }, h("p", { class: "who" }, "You"), h("div", { class: "text" }, h("p", {}, m.content)));
  }
  const li = h("li", { class: "msg bot", "data-message": m.message_id || "" });
  fillAnswer(li, m);
  return li;
}

function fillAnswer(li, m) {
  li.classList.remove("pending", "failed");
  li.removeAttribute("aria-busy");
  const who = h("p", { class: "who" }, state.creator ? state.creator.name : "Assistant");
  if (m.status === "pending") {
    li.classList.add("pending");
    li.setAttribute("aria-busy", "true");
    li.replaceChildren(who, h("div", { class: "text" }, h("p", {}, m.content)));
    return;
  }
  if (m.status === "failed") {
    li.classList.add("failed");
    const reason = m.failure_reason ? ` (${m.failure_reason})` : "";
    li.replaceChildren(who, h("div", { class: "text" }, h("p", {}, `Sorry, this question could not be answered${reason}. Please try again.`)));
    return;
  }
  const citations = new Map((m.citations || []).map((c) => [c.n, c]));
  const text = h("div", { class: "text" });
  for (const paragraph of (m.content || "").split(/\n{2,}/)) {
    const p = h("p");
    for (const piece of paragraph.split(/(\[\d+\])/)) {
      const marker = piece.match(/^\[(\d+)\]$/);
      const cited = marker && citations.get(Number(marker[1]));
      const href = cited && safeUrl(cited.url);
      if (href) {
        p.append(h("a", {
          class: "cite-ref",
          href,
          target: "_blank",
          rel: "noopener noreferrer",
          title: cited.snippet,
          "aria-label": `Source ${cited.n}: ${cited.title} (opens in a new tab)`,
        }, `[${cited.n}]`));
      } else {
        p.append(piece);
      }
    }
    text.append(p);
  }
  li.replaceChildren(who, text);
  if (citations.size) li.append(renderSources(m));
  if (m.message_id) li.append(renderFeedback(m.message_id));
}

function renderSources(m) {
  const list = h("ol");
  for (const c of m.citations) {
    const tipId = `tip-${m.message_id}-${c.n}`;
    const where = c.start_s !== null && c.start_s !== undefined ? ` at ${clock(c.start_s)}`
      : c.page !== null && c.page !== undefined ? `, page ${c.page}` : "";
    const href = safeUrl(c.url);
    const label = `${c.title}${where}`;
    const link = href
      ? h("a", { href, target: "_blank", rel: "noopener noreferrer", title: c.snippet, "aria-describedby": tipId },
          label, h("span", { class: "visually-hidden" }, " (opens in a new tab)"))
      : h("span", {}, label);
    const tip = h("span", { class: "tip", role: "tooltip", id: tipId }, c.snippet);
    link.addEventListener("keydown", (event) => { if (event.key === "Escape") tip.hidden = true; });
    link.addEventListener("blur", () => { tip.hidden = false; });
    list.append(h("li", { class: "source" }, h("span", { class: "n" }, `[${c.n}] `), link, tip));
  }
  return h("div", { class: "sources" }, h("h3", {}, "Sources"), list);
}

const THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

function thumb(down) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (down) svg.setAttribute("transform", "rotate(180)");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", THUMB);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

function renderFeedback(messageId) {
  const status = h("span", { class: "feedback-status", "aria-live": "polite" });
  const group = h("div", { class: "feedback", role: "group", "aria-label": "Was this answer helpful?" },
    h("span", { "aria-hidden": "true" }, "Helpful?"));
  for (const [rating, label] of [["up", "Yes, helpful"], ["down", "No, not helpful"]]) {
    group.append(h("button", {
      type: "button",
      "data-rating": rating,
      "aria-pressed": "false",
      "aria-label": label,
      title: label,
      onclick: (event) => sendFeedback(messageId, rating, event.currentTarget, status),
    }, thumb(rating === "down")));
  }
  group.append(status);
  return group;
}

async function sendFeedback(messageId, rating, button, status) {
  try {
    await api(`/v1/messages/${encodeURIComponent(messageId)}/feedback`, { method: "POST", body: { rating } });
    for (const other of button.parentElement.querySelectorAll("button")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    status.textContent = "Thanks for the feedback.";
  } catch (err) {
    status.textContent = `Feedback not saved: ${describe(err)}`;
  }
}

// -- asking -------------------------------------------------------------------------------

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy;
  $("log").setAttribute("aria-busy", String(busy));
}

// A 429: the hourly quota ("quota_exceeded") or the monthly token budget
// ("token_budget_exceeded", reset at the start of next month): say which, and when.
function showQuota(error) {
  const retry = Number.parseInt(error.response.headers.get("Retry-After") || "", 10);
  const seconds = Number.isFinite(retry) && retry > 0 ? retry : 3600;
  const reset = new Date(Date.now() + seconds * 1000);
  if (error.code === "token_budget_exceeded") {
    const day = h("time", { datetime: reset.toISOString() },
      reset.toLocaleDateString(undefined, { day: "numeric", month: "long", timeZone: "UTC" }));
    $("notice").replaceChildren(
      "Your plan's answers for this month are used up. You can ask again from ", day, ".");
    return;
  }
  const minutes = Math.ceil(seconds / 60);
  const when = h("time", { datetime: reset.toISOString() },
    reset.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }));
  $("notice").replaceChildren(
    "You have asked all the questions your plan allows this hour. You can ask again at ", when,
    minutes > 1 ? ` (in about ${minutes} minutes).` : " (in under a minute).");
}

// -- streamed answers (WebSocket) -----------------------------------------------------------
// One socket per page, opened on the first question; if it cannot open, the question goes
// over HTTP instead (and so do later ones until the page is reloaded).

const STREAM_OPEN_MS = 4000;
const stream = { socket: null, opening: null, broken: false, handler: null };

function streamUrl() {
  if (state.config.stream_url) return state.config.stream_url;
  if (state.config.api_base) return null;
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`;
}

function openStream() {
  if (stream.socket && stream.socket.readyState === WebSocket.OPEN) return Promise.resolve(stream.socket);
  if (stream.opening) return stream.opening;
  const base = streamUrl();
  if (!base || stream.broken || !("WebSocket" in window) || !state.session) return Promise.resolve(null);
  stream.opening = new Promise((resolve) => {
    let settled = false;
    const settle = (value) => {
      if (settled) return;
      settled = true;
      stream.opening = null;
      if (!value) stream.broken = true;
      resolve(value);
    };
    let socket;
    try {
      // a browser cannot set headers on a WebSocket: the token goes in the query string
      // (API Gateway and the local gateway keep it out of their access logs)
      socket = new WebSocket(`${base}?token=${encodeURIComponent(state.session.token)}`);
    } catch {
      settle(null);
      return;
    }
    const timer = setTimeout(() => { socket.close(); settle(null); }, STREAM_OPEN_MS);
    socket.addEventListener("open", () => { clearTimeout(timer); stream.socket = socket; settle(socket); });
    socket.addEventListener("error", () => { clearTimeout(timer); settle(null); });
    socket.addEventListener("message", (event) => {
      let msg = null;
      try { msg = JSON.parse(event.data); } catch { return; }
      if (stream.handler) stream.handler(msg);
    });
    socket.addEventListener("close", () => {
      if (stream.socket === socket) stream.socket = null;
      if (stream.handler) stream.handler({ type: "closed" });
    });
  });
  return stream.opening;
}

// Ask over the socket, rendering the text as it is written. Resolves to the final message
// ({status, content, citations, …}), or null when the socket is not there (use HTTP);
// rejects with {code, message, retry_after_s} for an error the server sent.
async function streamAsk(creator, body, answer) {
  const socket = await openStream();
  if (!socket || socket.readyState !== WebSocket.OPEN) return null;
  return new Promise((resolve, reject) => {
    let written = "";
    let textNode = null;
    let started = false;
    stream.handler = (msg) => {
      if (msg.type === "delta") {
        if (!started) {
          started = true;
          answer.classList.remove("pending");
          answer.classList.add("streaming");
          textNode = document.createTextNode("");
          const who = h("p", { class: "who" }, creator.name);
          answer.replaceChildren(who, h("div", { class: "text" }, h("p", {}, textNode)));
        }
        written += msg.text;
        textNode.data = written;
        answer.scrollIntoView({ block: "nearest" });
      } else if (msg.type === "done") {
        stream.handler = null;
        answer.classList.remove("streaming");
        resolve({ status: "answered", content: written, thread_id: msg.thread_id,
          message_id: msg.message_id, citations: msg.citations, cached: msg.cached });
      } else if (msg.type === "queued") {
        stream.handler = null;
        answer.classList.remove("streaming");
        resolve({ status: "pending", thread_id: msg.thread_id, message_id: msg.message_id,
          status_url: msg.status_url });
      } else if (msg.type === "error") {
        stream.handler = null;
        answer.classList.remove("streaming");
        reject(Object.assign(new Error(msg.message || "error"), { stream: msg }));
      } else if (msg.type === "closed") {
        stream.handler = null;
        answer.classList.remove("streaming");
        // gone mid-answer: the answer is still stored; look for it in the thread
        resolve(started ? { status: "lost" } : null);
      }
    };
    socket.send(JSON.stringify({ action: "chat", creator_id: creator.creator_id, ...body }));
  });
}

function showStreamError(error) {
  const e = error.stream;
  if (e.code === "quota_exceeded" || e.code === "token_budget_exceeded") {
    const headers = new Headers({ "Retry-After": String(e.retry_after_s || 3600) });
    showQuota({ code: e.code, response: { headers } });
  } else if (e.code === "unauthorized") {
    signOut("Your sign-in has expired. Please sign in again.", { revoke: false });
  } else {
    $("notice").textContent = e.message || "Something went wrong. Please try again.";
  }
}

async function ask(text) {
  if (state.busy || !text) return;
  setBusy(true);
  $("notice").textContent = "";
  const log = $("log");
  const question = renderMessage({ role: "user", content: text });
  const answer = h("li", { class: "msg bot" });
  fillAnswer(answer, { status: "pending", content: "Thinking…" });
  log.append(question, answer);
  answer.scrollIntoView({ block: "nearest" });
  const creator = state.creator;
  try {
    const body = { message: text };
    if (state.threadId) body.thread_id = state.threadId;
    let status;
    let data = await streamAsk(creator, body, answer);
    if (data && data.status === "lost") {
      // the socket closed mid-answer: the answer is stored all the same; show the thread
      if (state.threadId) await openThread(state.threadId, null);
      else await loadThreads();
      return;
    }
    if (data) status = data.status === "pending" ? 202 : 200;
    else ({ status, data } = await api(`/v1/creators/${encodeURIComponent(creator.creator_id)}/chat`, { method: "POST", body }));
    const isNewThread = state.threadId !== data.thread_id;
    state.threadId = data.thread_id;
    if (status === 202) {
      fillAnswer(answer, { status: "pending", content: "Queued: your question is waiting for an answer…" });
      announce("Your question is queued. The answer will appear here.");
      data = await poll(data.status_url, answer);
    }
    const message = { ...data, content: data.answer ?? data.content };
    answer.dataset.message = message.message_id || "";
    fillAnswer(answer, message);
    answer.scrollIntoView({ block: "nearest" });
    announce(message.status === "failed"
      ? "The answer failed. Please try again."
      : `${creator.name} answered: ${answer.querySelector(".text").textContent}`);
    if (isNewThread) await loadThreads();
    markCurrentThread();
  } catch (err) {
    if (err && err.stream) {
      question.remove();
      answer.remove();
      showStreamError(err);
      const input = $("question");
      if (!input.value) input.value = text; // not answered: keep the question
    } else if (err instanceof ApiError && err.body && err.body.status === "failed") {
      fillAnswer(answer, err.body);
      announce("The answer failed. Please try again.");
    } else {
      question.remove();
      answer.remove();
      if (err instanceof ApiError && err.status === 429) showQuota(err);
      else $("notice").textContent = describe(err);
      const input = $("question");
      if (!input.value) input.value = text; // nothing was sent: keep the question
    }
  } finally {
    setBusy(false);
  }
}

async function poll(statusUrl, answer) {
  if (!statusUrl || !statusUrl.startsWith("/")) throw new Error("no status URL");
  for (let attempt = 0; attempt < POLL_LIMIT; attempt += 1) {
    await sleep(attempt < 10 ? POLL_MS : 2 * POLL_MS);
    const { data } = await api(statusUrl);
    if (data.status !== "pending") return data;
    if (attempt === 10) fillAnswer(answer, { status: "pending", content: "Still queued: busy right now, the answer is on its way…" });
  }
  return { status: "failed", failure_reason: "still queued after a few minutes; open this conversation again later" };
}

function submitQuestion(event) {
  event.preventDefault();
  const input = $("question");
  const text = input.value.trim();
  if (!text || state.busy) return;
  input.value = "";
  ask(text);
}

// -- routing ------------------------------------------------------------------------------

async function route({ focus = false } = {}) {
  renderSessionBar();
  if (!state.session) return showSignIn();
  const match = location.pathname.match(SLUG_PATH);
  if (match) return openCreator(match[1], { focus });
  return showPicker({ focus });
}

async function init() {
  if (state.embed) {
    document.documentElement.classList.add("embed");
    document.body.classList.add("embed");
    $("home").removeAttribute("href");
  }
  try {
    const response = await fetch("/config.json", { headers: { Accept: "application/json" } });
    if (response.ok) Object.assign(state.config, await response.json());
  } catch {
    // keep the defaults: same-origin API, no sign-in
  }
  loadSession();
  $("dev-sign-in").addEventListener("submit", devSignIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("ask").addEventListener("submit", submitQuestion);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("new-thread").addEventListener("click", () => {
    startThread();
    announce("New conversation.");
    $("question").focus();
  });
  $("threads-toggle").addEventListener("click", () => toggleThreads());
  window.addEventListener("popstate", () => route());
  await route();
}

init();
