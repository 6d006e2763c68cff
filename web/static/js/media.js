// @ts-check
/**
 * WHIP publishing and WHEP playback (RFC 9725 and the WHEP draft) from the
 * browser. The offer is sent once ICE gathering has completed or a timeout
 * has passed (candidates found later are trickled with PATCH when the server
 * accepts it). The session URL is the Location header resolved against the
 * endpoint; DELETE on it ends the session. No UI code here.
 */

/**
 * @typedef {object} Session
 * @property {RTCPeerConnection} pc
 * @property {string} url the session URL (resolved Location)
 * @property {(del?: boolean) => Promise<void>} close DELETEs the session
 *   (unless del is false: the server dropped it already) and closes pc
 */

/**
 * Parses Link headers of the form <stun:…>; rel="ice-server"; username=…;
 * credential=…
 * @param {string|null} header
 * @returns {RTCIceServer[]}
 */
export function parseIceLinks(header) {
  if (!header) return [];
  /** @type {RTCIceServer[]} */
  const out = [];
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = part.match(/<([^>]+)>(.*)/);
    if (!m || !/rel="?ice-server"?/i.test(m[2])) continue;
    /** @type {RTCIceServer} */
    const s = { urls: m[1] };
    const user = m[2].match(/username="([^"]*)"/);
    const cred = m[2].match(/credential="([^"]*)"/);
    if (user) s.username = user[1];
    if (cred) s.credential = cred[1];
    out.push(s);
  }
  return out;
}

/**
 * Waits for ICE gathering to complete, at most timeoutMs.
 * @param {RTCPeerConnection} pc
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
export function gathered(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** A WHIP/WHEP HTTP failure. */
export class MediaError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {number} [retryAfter] seconds, from Retry-After (503 room_not_live, 429)
   */
  constructor(status, code, message, retryAfter = 0) {
    super(message);
    this.name = 'MediaError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * Runs the offer/answer exchange on pc against endpoint.
 * @param {RTCPeerConnection} pc with transceivers added
 * @param {string} endpoint WHIP or WHEP endpoint
 * @param {string} bearer token or stream key ("" for none)
 * @param {number} iceTimeoutMs
 * @returns {Promise<Session>}
 */
async function negotiate(pc, endpoint, bearer, iceTimeoutMs) {
  /** @type {RTCIceCandidate[]} */
  const late = [];
  let sent = false;
  pc.addEventListener('icecandidate', (e) => {
    if (sent && e.candidate && e.candidate.candidate) late.push(e.candidate);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, iceTimeoutMs);
  sent = true;
  /** @type {Record<string,string>} */
  const headers = { 'Content-Type': 'application/sdp' };
  if (bearer) headers.Authorization = 'Bearer ' + bearer;
  const base = new URL(endpoint, location.href);
  const res = await fetch(base, {
    method: 'POST',
    headers,
    body: pc.localDescription ? pc.localDescription.sdp : '',
    credentials: 'same-origin',
  });
  if (res.status !== 201 && res.status !== 200) {
    let code = 'http_' + res.status;
    let message = res.statusText;
    try {
      const j = await res.json();
      if (j && j.error) ({ code, message } = j.error);
    } catch {
      /* not JSON */
    }
    throw new MediaError(res.status, code, message, Number(res.headers.get('Retry-After') || 0));
  }
  const loc = res.headers.get('Location');
  const url = loc ? new URL(loc, base).toString() : '';
  const ice = parseIceLinks(res.headers.get('Link'));
  if (ice.length) {
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers: ice });
    } catch {
      /* some browsers refuse changes after the offer */
    }
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  /** Trickles candidates found after the offer was sent. */
  const trickle = async () => {
    if (!url || !late.length) return;
    const frag = late.splice(0).map((c) => 'a=' + c.candidate).join('\r\n') + '\r\n';
    try {
      await fetch(url, { method: 'PATCH', headers: { ...headers, 'Content-Type': 'application/trickle-ice-sdpfrag' }, body: frag });
    } catch {
      /* trickle is optional */
    }
  };
  pc.addEventListener('icecandidate', () => void trickle());
  void trickle();
  let closed = false;
  return {
    pc,
    url,
    close: async (del = true) => {
      if (closed) return;
      closed = true;
      // DELETE first: closing the connection first makes the server drop
      // the session on its own, and the DELETE would then find nothing.
      if (url && del) {
        /** @type {Record<string,string>} */
        const h = {};
        if (bearer) h.Authorization = 'Bearer ' + bearer;
        try {
          await fetch(url, { method: 'DELETE', headers: h, credentials: 'same-origin', signal: AbortSignal.timeout(3000) });
        } catch {
          /* the server times the session out */
        }
      }
      pc.close();
    },
  };
}

/**
 * Publishes stream over WHIP.
 * @param {string} endpoint e.g. /api/rooms/<id>/whip
 * @param {MediaStream} stream camera and microphone
 * @param {string} bearer the host's session token or the room's stream key
 * @param {{iceTimeoutMs?: number, onState?: (s: RTCPeerConnectionState) => void}} [opts]
 * @returns {Promise<Session>}
 */
export async function publish(endpoint, stream, bearer, opts = {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  pc.addEventListener('connectionstatechange', () => opts.onState?.(pc.connectionState));
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  try {
    return await negotiate(pc, endpoint, bearer, opts.iceTimeoutMs || 1000);
  } catch (e) {
    pc.close();
    throw e;
  }
}

/**
 * Plays a room over WHEP.
 * @param {string} endpoint e.g. /api/rooms/<id>/whep
 * @param {{audioOnly?: boolean, bearer?: string, iceTimeoutMs?: number,
 *   onTrack?: (s: MediaStream) => void, onState?: (s: RTCPeerConnectionState) => void}} [opts]
 * @returns {Promise<Session>}
 */
export async function play(endpoint, opts = {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const stream = new MediaStream();
  pc.addEventListener('track', (e) => {
    stream.addTrack(e.track);
    opts.onTrack?.(stream);
  });
  pc.addEventListener('connectionstatechange', () => opts.onState?.(pc.connectionState));
  pc.addTransceiver('audio', { direction: 'recvonly' });
  if (!opts.audioOnly) pc.addTransceiver('video', { direction: 'recvonly' });
  try {
    return await negotiate(pc, endpoint, opts.bearer || '', opts.iceTimeoutMs || 1000);
  } catch (e) {
    pc.close();
    throw e;
  }
}
