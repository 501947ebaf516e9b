// The REST API, with the browser session and its CSRF token. Errors carry the API's message.

const BASE = "/api/v1/";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function describe(body, status) {
  const error = body && body.error;
  if (!error) return `The server answered ${status}.`;
  const fields = error.fields
    ? Object.entries(error.fields).map(([name, messages]) => `${name}: ${[].concat(messages).join(" ")}`).join("; ")
    : "";
  return fields ? `${error.message} (${fields})` : error.message;
}

export async function request(method, path, { params, json, form } = {}) {
  const url = new URL(path.startsWith("/") ? path : BASE + path, window.location.origin);
  if (params) {
    for (const [key, value] of Object.entries(params)) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, value);
    }
  }
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (response.status === 401 || response.status === 403) {
    if (response.status === 401 || (data && data.error && data.error.code === "not_authenticated")) {
      window.location.assign(`/login/?next=${encodeURIComponent(window.location.pathname)}`);
    }
  }
  if (!response.ok) throw new ApiError(describe(data, response.status), response.status, data);
  return data;
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, json) => request("POST", path, { json: json || {} });
export const patch = (path, json) => request("PATCH", path, { json });

// Every page of a list (follows the cursor's "next" links).
export async function getAll(path, params, limit = 20) {
  let page = await get(path, params);
  const results = [...page.results];
  while (page.next && limit-- > 0) {
    page = await request("GET", new URL(page.next).pathname + new URL(page.next).search);
    results.push(...page.results);
  }
  return results;
}
