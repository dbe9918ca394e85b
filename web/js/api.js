// Calls to the facekit API, with the bearer token when the server requires one.
// The token is kept in sessionStorage for this tab only.

const TOKEN_KEY = 'facekit-token';

/** An error response of the API: `code` is the stable error code from the JSON body. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

let pendingPrompt = null;

/**
 * Shows the token dialog and stores what the user enters; resolves false when the dialog
 * is closed empty. Requests that fail at the same time share one dialog.
 */
function askForToken() {
  pendingPrompt ??= promptForToken().finally(() => {
    pendingPrompt = null;
  });
  return pendingPrompt;
}

async function promptForToken() {
  const dialog = document.getElementById('token-dialog');
  const input = dialog.querySelector('input[name="token"]');
  input.value = '';
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener('close', resolve, { once: true }));
  if (!input.value) return false;
  sessionStorage.setItem(TOKEN_KEY, input.value);
  return true;
}

/**
 * Sends a request to the API and returns the raw Response when it succeeded. `body` may be
 * a Blob (sent as its type), FormData, or any other value (sent as JSON). On 401 the user
 * is asked for the token once and the request is repeated.
 */
export async function request(path, { method = 'GET', body, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = authHeaders();
    let payload = body;
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData)) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    } else if (body instanceof Blob) {
      headers['content-type'] = body.type || 'application/octet-stream';
    }
    const response = await fetch(path, { method, headers, body: payload, signal });
    if (response.ok) return response;
    if (response.status === 401 && attempt === 0 && (await askForToken())) continue;
    let code = 'ERR_HTTP';
    let message = `${method} ${path} failed with HTTP ${response.status}`;
    try {
      const json = await response.json();
      code = json.error?.code ?? code;
      message = json.error?.message ?? message;
    } catch {
      // The body was not JSON; keep the generic message.
    }
    throw new ApiError(response.status, code, message);
  }
}

/** Sends a request and returns the parsed JSON body, or null for 204. */
export async function api(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

/** Fetches an image with the token and returns an object URL; revoke it with URL.revokeObjectURL. */
export async function imageUrl(path) {
  const response = await request(path);
  return URL.createObjectURL(await response.blob());
}

/**
 * Reads a server-sent event stream with fetch, which, unlike EventSource, can send the
 * Authorization header. Calls `onEvent(name, data)` with the parsed JSON of each event
 * and resolves when the server ends the stream or `signal` aborts.
 */
export async function readEvents(path, onEvent, signal) {
  const response = await request(path, { signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (data.length > 0) onEvent(name, JSON.parse(data.join('\n')));
      }
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw error;
  }
}

/** Shows a short message in the corner of the page. */
export function toast(message) {
  const element = document.getElementById('toast');
  element.textContent = message;
  element.classList.add('visible');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => element.classList.remove('visible'), 5000);
}
