// What the chat page (app.js) and the creator dashboard (dashboard.js) share: small DOM
// helpers and how an API error reads. Everything from the API is inserted as text.

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function safeUrl(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function clock(seconds) {
  const s = Math.floor(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

export function jwtClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

export function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

export class ApiError extends Error {
  constructor(response, body) {
    const error = body && body.error;
    super((error && error.message) || (body && body.message) || `HTTP ${response.status}`);
    this.status = response.status;
    this.code = error ? error.code : "";
    this.requestId = error ? error.request_id : "";
    this.body = body;
    this.response = response;
  }
}

export function describe(error) {
  if (error instanceof ApiError) {
    const ref = error.requestId ? ` (reference ${error.requestId})` : "";
    if (error.status >= 500) return `Something went wrong on our side. Please try again${ref}.`;
    return `${error.message}${ref}`;
  }
  return "Could not reach the server. Check your connection and try again.";
}

// ``api(path, {method, body})`` and ``apiUrl(path)`` for a page whose ``state`` holds its
// ``config.api_base`` and ``session``; ``onRefused`` runs when the gateway refuses the token
// (401, or 403 with its own body: the authorizer said no) while a session is open.
export function apiClient(state, onRefused) {
  const apiUrl = (path) => state.config.api_base.replace(/\/+$/, "") + path;
  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (state.session) headers.Authorization = `Bearer ${state.session.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    const refused = response.status === 401 || (response.status === 403 && data && data.message === "Forbidden");
    if (refused && state.session) onRefused();
    if (!response.ok) throw new ApiError(response, data);
    return { status: response.status, data, response };
  }
  return { api, apiUrl };
}
