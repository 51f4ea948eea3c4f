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
  if (!r.ok) throw failure(r.status, j, quiet401);
  return j;
}

// The error for an answer that is not 2xx: the API's own message, in its words.
function failure(status, j, quiet401) {
  if (status === 401 && !quiet401) sessionEnded();
  return new ApiError(status, (j && j.error && j.error.message) || 'HTTP ' + status);
}

// PUT of raw bytes (a File) with upload progress, which fetch cannot report:
// onProgress(loaded, total) as the body goes out. Resolves with the answer's JSON.
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', '/api/v1' + path);
    x.setRequestHeader('Accept', 'application/json');
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    x.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    x.addEventListener('load', () => {
      let j = null;
      try {
        j = JSON.parse(x.responseText);
      } catch (e) {
        j = null;
      }
      if (x.status >= 200 && x.status < 300) resolve(j);
      else reject(failure(x.status, j, false));
    });
    x.addEventListener('error', () => reject(new ApiError(0, 'The upload was cut off. Check the connection and retry.')));
    x.addEventListener('abort', () => reject(new ApiError(0, 'The upload was cancelled.')));
    x.send(file);
  });
}

export const get = (path, o) => api('GET', path, undefined, o);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// Path segment encoding for names that come from the user.
export const seg = (s) => encodeURIComponent(String(s));
