// The dashboard's only way to talk to the server: JSON over fetch, the CSRF token on
// every mutation, and errors turned into messages that say what to do.

let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, code, message, hint, step, problems, field) {
    super(message);
    // The machine path of the field an `invalid_field` error is about (`notificationNumber`).
    this.field = field;
    this.status = status;
    this.code = code;
    this.hint = hint;
    // The failed step of a multi-step provider operation (a purchase), if any.
    this.step = step;
    // Where a call flow has dead ends: [{ path, message }].
    this.problems = problems;
  }

  // One sentence for the page: what happened, then what to do.
  describe() {
    return this.hint ? `${this.message} ${this.hint}` : this.message;
  }
}

export async function api(method, path, body, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  // A string body with its own Content-Type (a CSV file) is sent as it is.
  const raw = typeof body === 'string' && Boolean(extraHeaders['Content-Type']);
  if (body !== undefined && !raw) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined || raw ? body : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The appliance did not answer.', 'Check that switchboard is running, then try again.');
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(
      response.status,
      err.code || 'http_' + response.status,
      err.message || `The server answered HTTP ${response.status}.`,
      // Only a failure of the appliance itself is a reason to look at its log; a 4xx
      // says what to change.
      err.hint || (response.status >= 500 ? 'Try again; if it keeps happening, check the server log.' : undefined),
      err.step,
      err.problems,
      err.field,
    );
  }
  return data;
}
