// Minimal WHIP/WHEP clients for jobcast's browser tests (plain ES, no build).
// Both wait for ICE gathering (bounded) and send one complete offer.

/** @param {RTCPeerConnection} pc @param {number} ms */
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms); // a broken setup fails later, not hangs
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}

/** POST an offer; returns {pc, location}. */
async function negotiate(pc, endpoint, token) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 3000);
  const headers = { 'Content-Type': 'application/sdp' };
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const res = await fetch(endpoint, { method: 'POST', headers, body: pc.localDescription.sdp });
  const body = await res.text();
  if (res.status !== 201) throw new Error('POST ' + endpoint + ' → ' + res.status + ' ' + body);
  const loc = res.headers.get('Location');
  if (!loc) throw new Error('no Location header (CORS must expose it)');
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  return new URL(loc, res.url).href;
}

/** Publish the camera and microphone over WHIP; codec 'h264' puts H.264 first. */
export async function publish(endpoint, token, codec) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    if (track.kind === 'video' && codec) {
      const all = RTCRtpSender.getCapabilities('video').codecs;
      const want = all.filter((c) => c.mimeType.toLowerCase() === 'video/' + codec);
      if (want.length === 0) throw new Error('this browser cannot send ' + codec);
      tr.setCodecPreferences([...want, ...all.filter((c) => !want.includes(c))]);
    }
  }
  const location = await negotiate(pc, endpoint, token);
  document.querySelector('video').srcObject = stream;
  window.session = { pc, location, token };
  return location;
}

/** The codec the publisher is sending (after it connected). */
export async function sendingCodec() {
  const stats = await window.session.pc.getStats();
  for (const s of stats.values()) {
    if (s.type === 'outbound-rtp' && s.kind === 'video' && s.codecId) return stats.get(s.codecId).mimeType;
  }
  return '';
}

/** Play a room over WHEP into the page's <video>; records timings. */
export async function play(endpoint, token) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const video = document.querySelector('video');
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; };
  window.timing = { start: performance.now() };
  video.requestVideoFrameCallback(() => { window.timing.firstFrame = performance.now(); });
  const origFetch = window.fetch;
  window.fetch = (...args) => { window.timing.request = performance.now(); return origFetch(...args); };
  try {
    const location = await negotiate(pc, endpoint, token);
    window.timing.answered = performance.now();
    window.session = { pc, location, token };
    return location;
  } finally {
    window.fetch = origFetch;
  }
}

/** DELETE the session resource. */
export async function stop() {
  const s = window.session;
  const headers = {};
  if (s.token) headers['Authorization'] = 'Bearer ' + s.token;
  const res = await fetch(s.location, { method: 'DELETE', headers });
  s.pc.close();
  return res.status;
}
