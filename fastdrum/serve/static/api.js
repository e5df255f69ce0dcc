// The server's API: JSON in, JSON (or a download) out. Errors carry the server's message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function check(response) {
  if (response.ok) return response;
  let message = `HTTP ${response.status}`;
  try {
    message = (await response.json()).error || message;
  } catch (_) { /* not JSON */ }
  throw new ApiError(response.status, message);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return check(response);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** POST, retried while the server answers 429 (its queue is full). */
async function postRetrying(path, body, tries = 20) {
  for (let i = 1; ; i++) {
    try {
      return await post(path, body);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 429 || i >= tries) throw err;
      await sleep(250 * Math.min(i, 4));
    }
  }
}

export async function getState() {
  return (await check(await fetch("/api/state"))).json();
}

/**
 * A new clip: {voice, seed, temperature, epsilon, negative_voice, guidance, duration, sample_rate,
 * samples: Float32Array}.
 */
export async function regenerate(request) {
  const clip = await (await postRetrying("/api/regenerate", request)).json();
  const bytes = Uint8Array.from(atob(clip.samples), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const samples = new Float32Array(bytes.length / 4);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getFloat32(4 * i, true);
  clip.samples = samples;
  return clip;
}

/** The canonical form of a pattern document (the server checks it as the CLI would). */
export async function checkPattern(doc) {
  return (await post("/api/pattern", doc)).json();
}

/** An export as {filename, blob}. */
export async function exportFile(kind, doc) {
  const response = await postRetrying(`/api/export/${kind}`, doc);
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return { filename: match ? match[1] : `fastdrum.${kind}`, blob: await response.blob() };
}
