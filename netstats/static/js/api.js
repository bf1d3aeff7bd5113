// The one client for calls to /api/v1 from the pages.
//
// It rides on the login session (the cookie) and sends the page's CSRF token in the
// X-CSRFToken header, which the server requires of every session call that changes data.
// Errors come back as ApiError with the server's {code, message, fields}. A call that
// never got an answer (network down, server restarting) is retried a few times when
// repeating it is harmless: reads, PATCH, DELETE, and calls marked {retry: true}.

const BASE = "/api/v1";
const RETRY_DELAYS_MS = [400, 1200, 3000];
const RETRY_BY_DEFAULT = new Set(["GET", "HEAD", "PATCH", "PUT", "DELETE"]);
const GATEWAY_ERRORS = new Set([502, 503, 504]);

export class ApiError extends Error {
  constructor(status, code, message, fields = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function decode(response) {
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: a proxy's error page, say; the status speaks for it
  }
  if (response.ok) return data;
  const error = data?.error ?? {};
  throw new ApiError(
    response.status,
    error.code ?? "http_error",
    error.message ?? `The server answered ${response.status} ${response.statusText}.`,
    error.fields ?? {},
  );
}

/**
 * Call the API: api("POST", "/jobs/3/pause"), api("PATCH", "/destinations/4", {...}).
 * Resolves to the decoded JSON (null for 204); rejects with ApiError.
 */
export async function api(method, path, body, { retry } = {}) {
  const mayRetry = retry ?? RETRY_BY_DEFAULT.has(method);
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  for (let attempt = 0; ; attempt += 1) {
    const last = !mayRetry || attempt >= RETRY_DELAYS_MS.length;
    let response;
    try {
      response = await fetch(BASE + path, init);
    } catch {
      if (last) {
        throw new ApiError(0, "network_error", "The server cannot be reached. Check the connection and try again.");
      }
      await sleep(RETRY_DELAYS_MS[attempt]);
      continue;
    }
    if (GATEWAY_ERRORS.has(response.status) && !last) {
      await sleep(RETRY_DELAYS_MS[attempt]);
      continue;
    }
    return decode(response);
  }
}
