// The API client: JSON over fetch with the session cookie. State-changing calls go out
// same-origin from this page, which the server checks (Sec-Fetch-Site / Origin) besides
// the cookie's SameSite=Strict. A 401 means the session ended: every page learns it
// through onSessionEnd.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let sessionEnded = () => {};
export function onSessionEnd(fn) {
  sessionEnded = fn;
}

export async function api(method, path, body, {quiet401 = false} = {}) {
  const opts = {method, credentials: 'same-origin', headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch('/api/v1' + path, opts);
  } catch (e) {
    throw new ApiError(0, 'The server could not be reached. Check the connection and retry.');
  }
  let j = null;
  try {
    j = await r.json();
  } catch (e) {
    j = null;
  }
  if (!r.ok) {
    if (r.status === 401 && !quiet401) sessionEnded();
    throw new ApiError(r.status, (j && j.error && j.error.message) || 'HTTP ' + r.status);
  }
  return j;
}

export const get = (path, o) => api('GET', path, undefined, o);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// Path segment encoding for names that come from the user.
export const seg = (s) => encodeURIComponent(String(s));
