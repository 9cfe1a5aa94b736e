// creator-chat creator dashboard: a plain ES module, no framework, no build step.
// Everything that comes from the API is inserted as text (textContent), never as HTML.

import { $, ApiError, announce, apiClient, clock, describe, h, jwtClaims, safeUrl } from "/common.js";

const SESSION_KEY = "creator-chat.dashboard-session";
const FAN_SESSION_KEY = "creator-chat.session"; // the chat page's: reused when it is a creator's
const POLL_MS = 1000;
const NEW_CREATOR = "__new__";
const ANALYTICS_DAYS = 30;
// what the ingest API parses, by file extension (as `creator-chat ingest` detects them)
const KINDS = {
  ".vtt": "vtt",
  ".webvtt": "vtt",
  ".srt": "srt",
  ".json": "youtube_json",
  ".md": "markdown",
  ".markdown": "markdown",
  ".mdown": "markdown",
  ".txt": "text",
  ".text": "text",
  ".pdf": "pdf",
};
const KIND_LABELS = {
  vtt: "captions",
  srt: "captions",
  youtube_json: "YouTube transcript",
  markdown: "Markdown",
  text: "text",
  pdf: "PDF",
};
const SUPPORTED = ".vtt, .srt, .json (YouTube transcript), .md, .txt or .pdf";
const STATUS_LABELS = { queued: "Queued", processing: "Processing", done: "Done", failed: "Failed" };

const state = {
  config: { api_base: "", dev_sign_in: false, sign_in_url: null, max_upload_bytes: null },
  session: null, // {token, user_id, creator_id, exp}
  creator: null,
  documents: new Map(), // document_id → the document as last listed
  listed: "", // the documents as last rendered (to re-render only on a change)
  listSeq: 0, // the latest documents request: an older answer never overwrites a newer one
  pollTimer: null,
  pollFailures: 0,
  deleting: null,
  signInMessage: "",
};

// -- small helpers ------------------------------------------------------------------------



// The citation link of a passage, as the API builds it (domain/links.py): the video at its
// second (t=123s on YouTube, t=123 elsewhere) or the manual at its page (#page=4).
function deepLink(url, { start_s: start, page } = {}) {
  const href = safeUrl(url || "");
  if (!href) return null;
  const parsed = new URL(href);
  if (start !== null && start !== undefined) {
    const seconds = Math.max(0, Math.floor(start));
    parsed.searchParams.delete("t");
    parsed.searchParams.append("t", parsed.host.toLowerCase().includes("youtube.com") ? `${seconds}s` : String(seconds));
  } else if (page !== null && page !== undefined) {
    parsed.hash = `page=${page}`;
  }
  return parsed.href;
}


function when(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function timeEl(epochSeconds) {
  return h("time", { datetime: new Date(epochSeconds * 1000).toISOString() }, when(epochSeconds));
}

function megabytes(bytes) {
  const mb = bytes / (1024 * 1024);
  return mb >= 10 ? `${Math.round(mb)} MB` : `${mb.toFixed(1)} MB`;
}

function sizeLabel(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KB`;
  return megabytes(bytes);
}



function showView(id) {
  for (const view of ["loading", "sign-in", "dashboard"]) $(view).hidden = view !== id;
}

// -- the API ------------------------------------------------------------------------------

// the page's API calls: its session's token, and a sign-out when the token is refused
const { api, apiUrl } = apiClient(state, () =>
  signOut("Your sign-in has expired. Please sign in again.", { revoke: false }));


function creatorPath(suffix = "") {
  return `/v1/creators/${encodeURIComponent(state.session.creator_id)}${suffix}`;
}

// -- session ------------------------------------------------------------------------------

// A session from a token, if the token is a creator's (role creator, with its creator_id).
function creatorSession(token, userId) {
  const claims = jwtClaims(token) || {};
  const role = claims.role || claims["custom:role"];
  const creatorId = claims.creator_id || claims["custom:creator_id"];
  if (role !== "creator" || !creatorId) return null;
  return {
    token,
    user_id: userId || claims.email || claims["cognito:username"] || claims.sub || "you",
    creator_id: creatorId,
    exp: claims.exp || 0,
  };
}

function fresh(session) {
  return session && session.token && (!session.exp || session.exp * 1000 > Date.now() + 60000);
}

function loadSession() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const idToken = fragment.get("id_token"); // Cognito's hosted UI (implicit grant)
  if (idToken) {
    const session = creatorSession(idToken);
    if (session) saveSession(session);
    else state.signInMessage = "The account you signed in with does not manage a creator.";
    history.replaceState(null, "", location.pathname + location.search);
  }
  for (const key of [SESSION_KEY, FAN_SESSION_KEY]) {
    try {
      const saved = JSON.parse(localStorage.getItem(key) || "null");
      const session = key === SESSION_KEY ? saved : saved && creatorSession(saved.token, saved.user_id);
      if (fresh(session)) {
        state.session = session;
        return;
      }
      if (key === SESSION_KEY) localStorage.removeItem(key);
    } catch {
      // storage blocked or garbled: look further
    }
  }
  state.session = null;
}

function saveSession(session) {
  state.session = session;
  try {
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // storage may be blocked: keep it for this page only
  }
}

function renderSessionBar() {
  const signedIn = Boolean(state.session);
  $("signed-in").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("signed-in").textContent = signedIn ? `Signed in as ${state.session.user_id}` : "";
}

function signOut(message = "", { revoke = true } = {}) {
  if (revoke && state.session) api("/v1/sessions/current", { method: "DELETE" }).catch(() => {});
  stopPolling();
  state.session = null;
  state.creator = null;
  state.documents.clear();
  state.listed = "";
  try {
    localStorage.removeItem(SESSION_KEY);
    const fan = JSON.parse(localStorage.getItem(FAN_SESSION_KEY) || "null");
    if (fan && creatorSession(fan.token)) localStorage.removeItem(FAN_SESSION_KEY);
  } catch {
    // nothing stored
  }
  renderSessionBar();
  showSignIn(message);
}

async function showSignIn(message = "") {
  const { dev_sign_in: dev, sign_in_url: hosted } = state.config;
  $("dev-sign-in").hidden = !dev;
  $("hosted-sign-in").hidden = !hosted;
  $("token-form").hidden = Boolean(dev);
  if (hosted) $("hosted-sign-in-link").href = safeUrl(hosted) || "/";
  $("sign-in-error").textContent = dev ? message : "";
  $("token-error").textContent = dev ? "" : message;
  if (!$("dev-user").value) $("dev-user").value = `creator-${Math.random().toString(36).slice(2, 8)}`;
  document.title = "Sign in · Creator dashboard";
  showView("sign-in");
  if (dev) await loadDevCreators();
}

async function loadDevCreators() {
  const select = $("dev-creator");
  const chosen = select.value;
  try {
    const response = await fetch("/local/dev-creators", { headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => null);
    if (!response.ok || !data) throw new ApiError(response, data);
    select.replaceChildren(
      ...data.creators.map((c) =>
        h("option", { value: c.creator_id }, c.active ? `${c.name} (/c/${c.slug})` : `${c.name} (/c/${c.slug}, inactive)`)),
      h("option", { value: NEW_CREATOR }, "A new creator…"));
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  } catch (err) {
    select.replaceChildren(h("option", { value: NEW_CREATOR }, "A new creator…"));
    $("sign-in-error").textContent = `Could not list the creators: ${describe(err)}`;
  }
  toggleNewCreator();
}

function toggleNewCreator() {
  const isNew = $("dev-creator").value === NEW_CREATOR;
  $("new-creator").hidden = !isNew;
  $("new-name").required = isNew;
  $("new-slug").required = isNew;
}

// the new creator's address follows its name until edited by hand
function slugify(name) {
  return name.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");
}

function invalid(input, errorBox, message) {
  errorBox.textContent = message;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

async function devSignIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  const user = $("dev-user");
  for (const input of [user, $("new-name"), $("new-slug")]) input.removeAttribute("aria-invalid");
  if (!user.checkValidity()) return invalid(user, error, "Enter a user id: letters, digits and _ . @ - (up to 64).");
  const body = { user_id: user.value.trim(), role: "creator" };
  if ($("dev-creator").value === NEW_CREATOR) {
    const name = $("new-name");
    const slug = $("new-slug");
    if (!name.value.trim()) return invalid(name, error, "Enter the new creator's name.");
    if (!slug.checkValidity() || !slug.value) {
      return invalid(slug, error, "Enter an address: 3-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen.");
    }
    body.new_creator = { name: name.value.trim(), slug: slug.value.trim() };
  } else {
    body.creator = $("dev-creator").value;
  }
  const button = event.submitter || $("dev-sign-in").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    // the local gateway's own route: always on this origin, never on a deployed API
    const response = await fetch("/local/dev-token", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok || !data || !data.token) throw new ApiError(response, data);
    saveSession(creatorSession(data.token, data.user_id));
    error.textContent = "";
    await route({ focus: true });
  } catch (err) {
    error.textContent = `Could not sign in: ${describe(err)}`;
  } finally {
    button.disabled = false;
  }
}

async function tokenSignIn(event) {
  event.preventDefault();
  const input = $("token-input");
  const session = creatorSession(input.value.trim());
  if (!session) {
    invalid(input, $("token-error"), "That is not a creator's token: it needs the creator role and a creator id.");
    return;
  }
  if (!fresh(session)) {
    invalid(input, $("token-error"), "That token has expired.");
    return;
  }
  input.removeAttribute("aria-invalid");
  input.value = "";
  $("token-error").textContent = "";
  saveSession(session);
  await route({ focus: true });
}

// -- the dashboard ------------------------------------------------------------------------

async function openDashboard({ focus = false } = {}) {
  showView("loading");
  try {
    const { data } = await api(creatorPath());
    state.creator = data;
  } catch (err) {
    if (state.session) signOut(`Could not open your dashboard: ${describe(err)}`, { revoke: false });
    return;
  }
  renderCreator();
  showView("dashboard");
  if (focus) $("dash-title").focus();
  await Promise.all([loadDocuments(), loadGaps(), loadFeedback(), loadAnalytics()]);
}

function renderCreator() {
  const c = state.creator;
  document.title = `${c.name} · Creator dashboard`;
  $("dash-title").textContent = `${c.name}: dashboard`;
  const page = $("fan-page");
  page.href = `/c/${encodeURIComponent(c.slug)}`;
  page.textContent = `/c/${c.slug}`;
  fillProfile(c);
}

// -- documents ----------------------------------------------------------------------------

const inFlight = (d) => d.status === "queued" || d.status === "processing";

async function loadDocuments() {
  if (!state.session) return;
  const session = state.session;
  const seq = ++state.listSeq;
  const current = () => state.session === session && seq === state.listSeq;
  let data;
  try {
    ({ data } = await api(creatorPath("/documents")));
    if (!current()) return; // signed out, or a newer list is on its way
    state.pollFailures = 0;
    $("documents-error").textContent = "";
  } catch (err) {
    if (!current()) return;
    state.pollFailures += 1;
    $("documents-error").textContent = `Could not load your documents: ${describe(err)}`;
    schedulePoll(Math.min(30000, POLL_MS * 2 ** state.pollFailures));
    return;
  }
  const changes = [];
  const next = new Map(data.documents.map((d) => [d.document_id, d]));
  for (const doc of next.values()) {
    const before = state.documents.get(doc.document_id);
    if (before && inFlight(before) && !inFlight(doc)) {
      changes.push(doc.status === "done"
        ? `“${doc.title}” is ready: ${passages(doc.chunk_count)}.`
        : `“${doc.title}” failed: ${doc.failure_reason || "no reason given"}.`);
    }
  }
  state.documents = next;
  renderDocuments();
  if (changes.length) announce(changes.join(" "));
  if ([...next.values()].some(inFlight)) schedulePoll(POLL_MS);
  else stopPolling();
}

function passages(n) {
  return n === 1 ? "1 passage" : `${n} passages`;
}

function schedulePoll(ms) {
  if (state.pollTimer !== null) return;
  state.pollTimer = setTimeout(() => {
    state.pollTimer = null;
    loadDocuments();
  }, ms);
}

function stopPolling() {
  if (state.pollTimer !== null) clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function renderDocuments() {
  const docs = [...state.documents.values()].sort(
    (a, b) => b.created_at - a.created_at || a.title.localeCompare(b.title));
  const listed = JSON.stringify(docs);
  if (listed === state.listed) return; // polled, nothing changed: leave the list (and focus) be
  state.listed = listed;
  const list = $("documents");
  const focused = document.activeElement && list.contains(document.activeElement)
    ? document.activeElement.dataset.document : null;
  list.replaceChildren(...docs.map(renderDocument));
  $("documents-empty").hidden = docs.length > 0;
  if (focused) list.querySelector(`button[data-document="${CSS.escape(focused)}"]`)?.focus();
}

function renderDocument(d) {
  const status = h("span", { class: `badge ${d.status}` }, STATUS_LABELS[d.status] || d.status);
  const detail = d.status === "done" ? passages(d.chunk_count)
    : d.status === "failed" ? (d.failure_reason || "no reason given")
    : d.status === "processing" ? "reading and indexing…" : "waiting for the worker…";
  const title = safeUrl(d.source_url)
    ? h("a", { href: safeUrl(d.source_url), target: "_blank", rel: "noopener noreferrer" }, d.title,
        h("span", { class: "visually-hidden" }, " (opens in a new tab)"))
    : d.title;
  return h("li", { class: `doc ${d.status}`, "data-document": d.document_id, "data-status": d.status },
    h("div", { class: "doc-main" },
      h("p", { class: "doc-title" }, title),
      h("p", { class: "hint doc-meta" },
        `${KIND_LABELS[d.kind] || d.kind} · ${sizeLabel(d.size_bytes)} · updated `, timeEl(d.updated_at))),
    h("p", { class: "doc-status" }, status, h("span", { class: "doc-detail" }, ` ${detail}`)),
    h("button", {
      type: "button",
      class: "small",
      "data-document": d.document_id,
      "aria-label": `Delete “${d.title}”`,
      onclick: (event) => confirmDelete(d, event.currentTarget),
    }, "Delete"));
}

function confirmDelete(doc, opener) {
  const dialog = $("confirm-delete");
  state.deleting = { doc, opener };
  $("confirm-text").textContent = `“${doc.title}” and its ${passages(doc.chunk_count)} leave your assistant's content. This cannot be undone.`;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus(); // the safe choice first
}

async function deleteConfirmed() {
  const dialog = $("confirm-delete");
  const pending = state.deleting;
  state.deleting = null;
  if (!pending) return;
  const { doc, opener } = pending;
  if (dialog.returnValue !== "delete") {
    opener.focus();
    return;
  }
  const items = [...$("documents").children];
  const index = items.findIndex((li) => li.dataset.document === doc.document_id);
  try {
    await api(creatorPath(`/documents/${encodeURIComponent(doc.document_id)}`), { method: "DELETE" });
  } catch (err) {
    $("documents-error").textContent = `Could not delete “${doc.title}”: ${describe(err)}`;
    opener.focus();
    return;
  }
  state.documents.delete(doc.document_id);
  renderDocuments();
  announce(`Deleted “${doc.title}”.`);
  // focus the next document's delete button, else the previous one, else the heading
  const buttons = $("documents").querySelectorAll("button[data-document]");
  const target = buttons[Math.min(index, buttons.length - 1)];
  if (target) target.focus();
  else $("choose").focus();
}

// -- uploads ------------------------------------------------------------------------------

function kindOf(name) {
  const dot = name.lastIndexOf(".");
  return dot >= 0 ? KINDS[name.slice(dot).toLowerCase()] || null : null;
}

function titleOf(name) {
  const dot = name.lastIndexOf(".");
  const stem = (dot > 0 ? name.slice(0, dot) : name).replace(/[-_]+/g, " ").trim();
  return (stem || name).slice(0, 300);
}

// A YouTube video's id from its URL, for the documents that are that video.
function videoIdOf(url) {
  try {
    const u = new URL(url);
    const host = u.hostname.replace(/^(www|m)\./, "");
    let id = null;
    if (host === "youtu.be") id = u.pathname.split("/")[1];
    else if (host.endsWith("youtube.com")) {
      id = u.searchParams.get("v") || (u.pathname.match(/^\/(?:shorts|embed|live)\/([^/]+)/) || [])[1];
    }
    return id && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

// Locally the upload URL names the server's public address (127.0.0.1): when the page was
// opened under another loopback name (localhost), send it to this origin (the CSP allows
// only 'self').
function uploadTarget(url) {
  const target = new URL(url, location.href);
  const loopback = (host) => ["localhost", "127.0.0.1", "[::1]"].includes(host);
  if (target.origin !== location.origin && loopback(target.hostname) && loopback(location.hostname)
      && target.port === location.port && target.protocol === location.protocol) {
    return location.origin + target.pathname + target.search;
  }
  return target.href;
}

function logUpload(name) {
  const text = h("span", { class: "upload-text" }, "Checking…");
  const li = h("li", { class: "upload-item" }, h("span", { class: "upload-name" }, `${name}:`), " ", text);
  const log = $("upload-log");
  log.prepend(li);
  while (log.children.length > 8) log.lastElementChild.remove();
  return (message, kind = "") => {
    li.className = `upload-item ${kind}`;
    text.textContent = message;
  };
}

function tooLargeMessage(file, err) {
  const limit = /limit is (\d+)/.exec(err.message || "");
  const max = limit ? Number(limit[1]) : state.config.max_upload_bytes;
  return max
    ? `too large (${megabytes(file.size)}): the limit is ${megabytes(max)} a file.`
    : `too large (${megabytes(file.size)}).`;
}

async function uploadFiles(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  const linkInput = $("source-url");
  const link = linkInput.value.trim();
  if (link && !safeUrl(link)) {
    invalidLink("The link must be a web address (https://…).");
    return;
  }
  if (link && files.length > 1) {
    invalidLink("A link names one file: add one file at a time when you give a link, or clear the link.");
    return;
  }
  linkInput.removeAttribute("aria-invalid");
  $("source-url-hint").classList.remove("error");
  // the link belongs to this file: taken now, so a file added while this one uploads does
  // not get it too (given back if this upload does not start)
  if (link) linkInput.value = "";
  let started = 0;
  for (const file of files) {
    if (await uploadOne(file, link)) started += 1;
  }
  if (!started && link && !linkInput.value) linkInput.value = link;
  if (started) await loadDocuments();
}

function invalidLink(message) {
  const input = $("source-url");
  const report = logUpload(input.value.trim() || "link");
  report(message, "failed");
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

async function uploadOne(file, link) {
  const report = logUpload(file.name);
  const kind = kindOf(file.name);
  if (!kind) {
    report(`not a supported type: upload ${SUPPORTED}.`, "failed");
    return false;
  }
  if (file.size === 0) {
    report("the file is empty.", "failed");
    return false;
  }
  const max = state.config.max_upload_bytes;
  if (max && file.size > max) {
    report(tooLargeMessage(file, {}), "failed");
    return false;
  }
  report("Uploading…", "busy");
  const body = { title: titleOf(file.name), kind, upload: true, size_bytes: file.size };
  if (link) {
    body.source_url = link;
    const video = videoIdOf(link);
    if (video) body.video_id = video;
  }
  try {
    const { data: ticket } = await api(creatorPath("/documents"), { method: "POST", body });
    const form = new FormData();
    for (const [key, value] of Object.entries(ticket.upload_fields || {})) form.append(key, value);
    form.append("file", file, file.name); // the last field, as S3's presigned POST wants it
    const sent = await fetch(uploadTarget(ticket.upload_url), { method: "POST", body: form });
    if (!sent.ok) throw new ApiError(sent, await sent.json().catch(() => null));
    const documentId = ticket.document.document_id;
    await api(creatorPath(`/documents/${encodeURIComponent(documentId)}/complete`), { method: "POST" });
    report("uploaded; its status is in the list below.", "done");
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 413) report(tooLargeMessage(file, err), "failed");
    else report(`could not be uploaded: ${describe(err)}`, "failed");
    return false;
  }
}

function setUpDropZone() {
  const zone = $("drop");
  const input = $("files");
  $("choose").addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = ""; // the same file again is a new choice
    await uploadFiles(files);
  });
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  zone.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("over");
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    uploadFiles(event.dataTransfer.files);
  });
  // a file dropped beside the zone must not navigate away from the dashboard
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (hasFiles(event) && !zone.contains(event.target)) event.preventDefault();
    });
  }
}

// -- profile ------------------------------------------------------------------------------

const PROFILE_FIELDS = { name: "p-name", specialty: "p-specialty", description: "p-description", persona: "p-persona" };

function fillProfile(c) {
  for (const [field, id] of Object.entries(PROFILE_FIELDS)) $(id).value = c[field] || "";
}

async function saveProfile(event) {
  event.preventDefault();
  const status = $("profile-status");
  const name = $("p-name");
  status.classList.remove("error");
  name.removeAttribute("aria-invalid");
  if (!name.value.trim()) {
    status.classList.add("error");
    invalid(name, status, "Your name cannot be empty.");
    return;
  }
  const changes = {};
  for (const [field, id] of Object.entries(PROFILE_FIELDS)) {
    const value = $(id).value.trim();
    if (value !== (state.creator[field] || "")) changes[field] = value;
  }
  if (!Object.keys(changes).length) {
    status.textContent = "Nothing to save: no changes.";
    return;
  }
  const button = $("profile-save");
  button.disabled = true;
  status.textContent = "Saving…";
  try {
    const { data } = await api(creatorPath(), { method: "PATCH", body: changes });
    state.creator = data;
    renderCreator();
    status.textContent = `Saved at ${new Date().toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}.`;
  } catch (err) {
    status.classList.add("error");
    status.textContent = `Not saved: ${describe(err)}`;
  } finally {
    button.disabled = false;
  }
}

// -- preview ------------------------------------------------------------------------------

async function runPreview(event) {
  event.preventDefault();
  const input = $("preview-query");
  const query = input.value.trim();
  const status = $("preview-status");
  const results = $("preview-results");
  if (!query) {
    status.textContent = "Type a question first.";
    input.focus();
    return;
  }
  const button = $("preview-run");
  button.disabled = true;
  results.setAttribute("aria-busy", "true");
  status.textContent = "Searching your content…";
  try {
    const { data } = await api(creatorPath("/search"), { method: "POST", body: { query, top_k: 5 } });
    const hits = data.results.filter((r) => r.answerable);
    results.replaceChildren(...hits.map(renderHit));
    status.textContent = hits.length
      ? `${hits.length === 1 ? "1 passage" : `${hits.length} passages`} your assistant would answer from.`
      : "Nothing in your content answers this: your assistant would say so, and the question may show up under content gaps.";
  } catch (err) {
    results.replaceChildren();
    status.textContent = `Could not search: ${describe(err)}`;
  } finally {
    button.disabled = false;
    results.setAttribute("aria-busy", "false");
  }
}

function renderHit(hit) {
  const where = hit.start_s !== null && hit.start_s !== undefined ? `at ${clock(hit.start_s)}`
    : hit.page !== null && hit.page !== undefined ? `page ${hit.page}` : "";
  const href = deepLink(hit.source_url, hit);
  const label = where ? `${hit.title}, ${where}` : hit.title;
  const title = href
    ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label,
        h("span", { class: "visually-hidden" }, " (opens in a new tab)"))
    : h("span", {}, label);
  const text = hit.text.length > 320 ? `${hit.text.slice(0, 320).trimEnd()}…` : hit.text;
  return h("li", { class: "hit" },
    h("p", { class: "hit-title" }, title),
    hit.heading ? h("p", { class: "hint hit-heading" }, hit.heading) : null,
    h("p", { class: "hit-text" }, text));
}

// -- content gaps and analytics -----------------------------------------------------------

async function loadGaps() {
  const list = $("gap-list");
  const status = $("gaps-status");
  try {
    const { data } = await api(creatorPath("/gaps"));
    const min = data.min_fans || 3;
    $("gaps-hint").textContent = `Questions your content could not answer, grouped by meaning, last asked first. A question shows once ${min} different fans asked it in the same week.`;
    list.replaceChildren(...(data.gaps || []).map((g) =>
      h("li", { class: "gap" },
        h("p", { class: "gap-question" }, g.question),
        h("p", { class: "hint" },
          `${g.fans} fans · asked ${g.asked === 1 ? "once" : `${g.asked} times`} · last `, timeEl(g.last_asked_at)))));
    status.textContent = data.gaps && data.gaps.length ? "" : "No gaps yet: every question enough fans asked found an answer.";
  } catch (err) {
    list.replaceChildren();
    if (!state.session) return;
    status.textContent = err instanceof ApiError && err.status === 404
      ? "Content gaps are not available on this server yet."
      : `Could not load content gaps: ${describe(err)}`;
  }
}

// GET .../feedback → {min_fans, weeks: [{week, up, down}] oldest first, down_rated:
// [{question, fans}]} (a question shows once min_fans different fans rated its answer down)
async function loadFeedback() {
  const status = $("feedback-status");
  const body = $("weeks").querySelector("tbody");
  const list = $("down-rated");
  try {
    const { data } = await api(creatorPath("/feedback"));
    const weeks = (data.weeks || []).filter((w) => w.up || w.down).reverse();
    body.replaceChildren(...weeks.map((w) =>
      h("tr", {},
        h("th", { scope: "row" }, w.week),
        h("td", {}, String(w.up)),
        h("td", {}, String(w.down)))));
    $("weeks-wrap").hidden = weeks.length === 0;
    list.replaceChildren(...(data.down_rated || []).map((d) =>
      h("li", { class: "gap" },
        h("p", { class: "gap-question" }, d.question),
        h("p", { class: "hint" }, `${d.fans} fans rated the answer down`))));
    const min = data.min_fans || 3;
    status.textContent = weeks.length
      ? (data.down_rated && data.down_rated.length ? "" : `No question yet whose answer ${min} different fans rated down.`)
      : "No ratings from fans yet.";
  } catch (err) {
    body.replaceChildren();
    list.replaceChildren();
    $("weeks-wrap").hidden = true;
    if (!state.session) return;
    status.textContent = err instanceof ApiError && err.status === 404
      ? "Ratings are not available on this server yet."
      : `Could not load ratings: ${describe(err)}`;
  }
}

function percent(part, whole) {
  return whole ? `${Math.round((100 * part) / whole)}%` : "–";
}

function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function rate(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;
}

// GET .../analytics?days=30 → {days: [{day, questions, answered, not_found, cached,
// cache_hit_rate, median_answer_ms}], total: {the same over the range}}, fans only
async function loadAnalytics() {
  const status = $("analytics-status");
  const totals = $("totals");
  const body = $("days").querySelector("tbody");
  try {
    const { data } = await api(creatorPath(`/analytics?days=${ANALYTICS_DAYS}`));
    const t = data.total;
    const stat = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
    totals.replaceChildren(
      stat("Questions", String(t.questions)),
      stat("Answered", `${t.answered} (${percent(t.answered, t.answered + t.not_found)})`),
      stat("Not in your content", `${t.not_found} (${percent(t.not_found, t.answered + t.not_found)})`),
      stat("Cache hit rate", rate(t.cache_hit_rate)),
      stat("Median answer time", ms(t.median_answer_ms)));
    // the days fans asked something, newest first (the API lists every day, oldest first)
    const days = data.days.filter((d) => d.questions || d.answered || d.not_found).reverse();
    body.replaceChildren(...days.map((d) =>
      h("tr", {},
        h("th", { scope: "row" }, h("time", { datetime: d.day }, d.day)),
        h("td", {}, String(d.questions)),
        h("td", {}, String(d.answered)),
        h("td", {}, String(d.not_found)),
        h("td", {}, rate(d.cache_hit_rate)),
        h("td", {}, ms(d.median_answer_ms)))));
    $("days-wrap").hidden = days.length === 0;
    status.textContent = t.questions ? "" : `No questions from fans in the last ${ANALYTICS_DAYS} days yet.`;
  } catch (err) {
    totals.replaceChildren();
    body.replaceChildren();
    $("days-wrap").hidden = true;
    if (!state.session) return;
    status.textContent = err instanceof ApiError && err.status === 404
      ? "Analytics are not available on this server yet."
      : `Could not load analytics: ${describe(err)}`;
  }
}

// -- routing ------------------------------------------------------------------------------

async function route({ focus = false } = {}) {
  renderSessionBar();
  if (!state.session) {
    const message = state.signInMessage;
    state.signInMessage = "";
    return showSignIn(message);
  }
  return openDashboard({ focus });
}

async function init() {
  try {
    const response = await fetch("/config.json", { headers: { Accept: "application/json" } });
    if (response.ok) Object.assign(state.config, await response.json());
  } catch {
    // keep the defaults: same-origin API, no sign-in
  }
  if (state.config.max_upload_bytes) {
    $("files-hint").textContent = `Captions (.vtt, .srt), YouTube transcripts (.json), Markdown (.md), text (.txt) and PDF, up to ${megabytes(state.config.max_upload_bytes)} each.`;
  }
  loadSession();
  $("dev-sign-in").addEventListener("submit", devSignIn);
  $("dev-creator").addEventListener("change", toggleNewCreator);
  $("new-name").addEventListener("input", () => {
    const slug = $("new-slug");
    if (!slug.dataset.edited) slug.value = slugify($("new-name").value);
  });
  $("new-slug").addEventListener("input", (event) => { event.currentTarget.dataset.edited = "1"; });
  $("token-form").addEventListener("submit", tokenSignIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("profile-form").addEventListener("submit", saveProfile);
  $("preview-form").addEventListener("submit", runPreview);
  $("gaps-refresh").addEventListener("click", async () => {
    await loadGaps();
    announce("Content gaps refreshed.");
  });
  $("feedback-refresh").addEventListener("click", async () => {
    await loadFeedback();
    announce("Ratings refreshed.");
  });
  $("analytics-refresh").addEventListener("click", async () => {
    await loadAnalytics();
    announce("Analytics refreshed.");
  });
  $("confirm-delete").addEventListener("close", deleteConfirmed);
  setUpDropZone();
  await route();
}

init();
