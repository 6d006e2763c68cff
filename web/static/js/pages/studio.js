// @ts-check
/**
 * Studio page (/studio/:id) for hosts: camera and microphone preview with
 * device choice, Go live / End over WHIP (the host's session token as
 * bearer, else the room's stream key), connection state, the job shelf with
 * Pin / Unpin, the live applicant feed of the host's org, viewer count, chat.
 */
import { api, token, ApiError } from '../api.js';
import { RoomChannel } from '../protocol.js';
import { publish } from '../media.js';
import { el, byId, initPage, pathID, announce, showError, signinURL, markReady } from '../ui.js';
import { setText, fmtNumber, fmtTime, t, has } from '../i18n.js';
import { tagList } from '../cards.js';
import { chatPanel } from '../chat-ui.js';

const roomID = pathID();
const me = await initPage('dashboard');
if (!me) location.href = signinURL();

const preview = /** @type {HTMLVideoElement} */ (byId('preview'));
const camSel = /** @type {HTMLSelectElement} */ (byId('camera'));
const micSel = /** @type {HTMLSelectElement} */ (byId('mic'));
const goLive = /** @type {HTMLButtonElement} */ (byId('go-live'));
const endBtn = /** @type {HTMLButtonElement} */ (byId('end'));
const connState = byId('conn-state');
const errBox = byId('studio-error');
/** @type {HTMLAnchorElement} */ (byId('watch-link')).href = '/rooms/' + encodeURIComponent(roomID);

/** @type {MediaStream|null} */
let stream = null;
/** @type {import('../media.js').Session|null} */
let session = null;
/** @type {import('../api.js').Snapshot|null} */
let snap = null;

/** @param {string} s */
function setConn(s) {
  setText(connState, 'studio.state.' + s);
  connState.className = 'state-' + s;
}

async function openDevices() {
  if (stream) for (const tr of stream.getTracks()) tr.stop();
  /** @type {MediaStreamConstraints} */
  const c = {
    video: camSel.value ? { deviceId: { exact: camSel.value } } : true,
    audio: micSel.value ? { deviceId: { exact: micSel.value } } : true,
  };
  try {
    stream = await navigator.mediaDevices.getUserMedia(c);
    preview.srcObject = stream;
    void preview.play().catch(() => undefined);
    showError(errBox, null);
    await listDevices();
    if (session) {
      // Swap tracks on the live connection without renegotiating.
      for (const sender of session.pc.getSenders()) {
        const kind = sender.track ? sender.track.kind : '';
        const next = stream.getTracks().find((tr) => tr.kind === kind);
        if (next) await sender.replaceTrack(next);
      }
    }
  } catch {
    setText(errBox, 'studio.no_devices');
    errBox.hidden = false;
  }
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const active = stream ? stream.getTracks().map((tr) => tr.getSettings().deviceId) : [];
  /** @param {HTMLSelectElement} sel @param {MediaDeviceKind} kind @param {string} fallbackKey */
  const fill = (sel, kind, fallbackKey) => {
    const keep = sel.value;
    sel.replaceChildren();
    let n = 0;
    for (const d of devices.filter((x) => x.kind === kind)) {
      n++;
      const o = d.label ? el('option', { attrs: { value: d.deviceId }, text: d.label }) : el('option', { attrs: { value: d.deviceId }, i18n: fallbackKey, args: { n } });
      if (d.deviceId === keep || (!keep && active.includes(d.deviceId))) o.selected = true;
      sel.append(o);
    }
  };
  fill(camSel, 'videoinput', 'studio.camera_n');
  fill(micSel, 'audioinput', 'studio.mic_n');
}

camSel.addEventListener('change', () => void openDevices());
micSel.addEventListener('change', () => void openDevices());

goLive.addEventListener('click', async () => {
  if (!stream) await openDevices();
  if (!stream) return;
  goLive.disabled = true;
  setConn('connecting');
  showError(errBox, null);
  // The host's session token; without one (cookie-only sign-in) the
  // session cookie goes along with the same-origin request.
  const bearer = token();
  try {
    session = await publish(`/api/rooms/${encodeURIComponent(roomID)}/whip`, stream, bearer, {
      onState: (s) => {
        setConn(s === 'connected' ? 'live' : s);
        if (s === 'connected') announce('studio.live_announce');
        if (s === 'failed') {
          endBtn.disabled = true;
          goLive.disabled = false;
          const old = session;
          session = null;
          void old?.close();
        }
      },
    });
    endBtn.disabled = false;
  } catch (e) {
    setConn('failed');
    goLive.disabled = false;
    if (e instanceof ApiError) showError(errBox, e);
    else {
      const m = /** @type {any} */ (e);
      if (m && m.code) setText(errBox, has('error.' + m.code) ? 'error.' + m.code : 'error.generic', { message: m.message || '' });
      else setText(errBox, 'error.generic', { message: String(e) });
      errBox.hidden = false;
    }
  }
});

endBtn.addEventListener('click', async () => {
  // Ending is final for the room (viewers see "ended"): ask for a second press.
  if (endBtn.dataset.armed !== '1') {
    endBtn.dataset.armed = '1';
    setText(endBtn, 'studio.end_confirm');
    return;
  }
  delete endBtn.dataset.armed;
  setText(endBtn, 'studio.end');
  endBtn.disabled = true;
  const s = session;
  session = null;
  if (s) await s.close();
  setConn('idle');
  goLive.disabled = false;
  announce('studio.ended_announce');
});

// ---- shelf -------------------------------------------------------------

const shelfErr = byId('shelf-error');
/** @type {import('../api.js').Job[]} */
let orgJobs = [];
let pinnedID = '';

/** @param {import('../api.js').JobCard[]} shelf */
function renderShelf(shelf) {
  const ul = byId('shelf');
  ul.replaceChildren();
  if (!shelf.length) ul.append(el('li', { cls: 'muted', i18n: 'studio.shelf_empty' }));
  for (const c of shelf) {
    const pinned = c.job_id === pinnedID;
    const li = el('li', { cls: 'shelf-item' + (pinned ? ' is-pinned' : '') });
    const title = el('strong', { text: c.title });
    const pinBtn = el('button', {
      cls: pinned ? 'secondary' : '',
      attrs: { type: 'button', 'aria-pressed': pinned ? 'true' : 'false', 'data-job': c.job_id, 'data-action': 'pin' },
      i18n: pinned ? 'studio.unpin' : 'studio.pin',
      onclick: async () => {
        try {
          if (pinned) await api.unpin(roomID);
          else await api.pin(roomID, c.job_id);
          showError(shelfErr, null);
        } catch (e) {
          showError(shelfErr, e);
        }
      },
    });
    pinBtn.setAttribute('aria-label', t(pinned ? 'studio.unpin_job' : 'studio.pin_job', { title: c.title }));
    const remove = el('button', {
      cls: 'secondary small',
      attrs: { type: 'button' },
      i18n: 'studio.remove',
      onclick: async () => {
        try {
          await api.unshelve(roomID, c.job_id);
        } catch (e) {
          showError(shelfErr, e);
        }
      },
    });
    const count = el('span', { cls: 'count', i18n: 'studio.applicants_n', args: { n: fmtNumber(c.applicants || 0) } });
    count.dataset.job = c.job_id;
    li.append(title, tagList(c.tags, c.accessible), count, el('span', { cls: 'row' }, pinBtn, remove));
    ul.append(li);
  }
  renderOrgJobs();
}

function renderOrgJobs() {
  const ul = byId('org-jobs');
  ul.replaceChildren();
  const onShelf = new Set((snap ? snap.shelf : []).map((c) => c.job_id));
  const candidates = orgJobs.filter((j) => j.status !== 'closed' && !onShelf.has(j.id));
  if (!candidates.length) ul.append(el('li', { cls: 'muted', i18n: 'studio.no_more_jobs' }));
  for (const j of candidates) {
    const add = el('button', {
      cls: 'small',
      attrs: { type: 'button', 'data-job': j.id, 'data-action': 'shelve' },
      i18n: 'studio.add',
      onclick: async () => {
        try {
          await api.shelve(roomID, j.id);
          showError(shelfErr, null);
        } catch (e) {
          showError(shelfErr, e);
        }
      },
    });
    add.setAttribute('aria-label', t('studio.add_job', { title: j.title }));
    ul.append(el('li', {}, el('span', { text: j.title }), add));
  }
}

// ---- applicant feed ----------------------------------------------------

/** Applications already in the feed (live events and catch-up may overlap). */
const shownApps = new Set();

/**
 * Fills the feed from the database after every (re)connect: `application`
 * events sent while this page was away are not replayed, the applicant list
 * is the truth. Members of other orgs get 403 and no feed.
 */
async function catchUpApplicants() {
  if (!snap || !snap.room) return;
  try {
    const apps = await api.applications(snap.room.org_id, { room: roomID, limit: '50' });
    for (const a of apps.slice().reverse()) {
      void addApplicant({ application_id: a.id, job_title: a.job_title, at: a.created_at });
    }
  } catch {
    /* not allowed to see this org's applicants: no feed */
  }
}

/** @param {any} d application event data (ids only) */
async function addApplicant(d) {
  if (shownApps.has(d.application_id)) return;
  shownApps.add(d.application_id);
  const li = el('li', { cls: 'feed-item' });
  li.append(el('strong', { text: d.job_title || '' }), el('span', { cls: 'muted', text: ' ' + fmtTime(d.at) }));
  byId('feed').prepend(li);
  try {
    const a = await api.application(d.application_id);
    const p = a.profile || {};
    const who = el('p', { cls: 'applicant' });
    who.append(el('span', { cls: 'name', text: p.full_name || '' }));
    if (p.city) who.append(document.createTextNode(' · '), el('span', { text: p.city }));
    if (p.skills && p.skills.length) who.append(document.createTextNode(' · '), el('span', { text: p.skills.join(', ') }));
    if (p.accessibility_needs) who.append(el('span', { cls: 'badge badge-accessible', i18n: 'studio.has_needs' }));
    li.append(who);
    announce('studio.applicant_announce', { title: d.job_title || a.job_title || '' });
  } catch {
    li.append(el('p', { cls: 'muted', i18n: 'studio.applicant_hidden' }));
  }
}

// ---- channel -----------------------------------------------------------

/**
 * Publishing is for the host org (and admins); exhibitors and moderators
 * use the studio for the shelf, pins, applicants and chat.
 * @param {string|undefined} role
 */
function showRole(role) {
  if (!role) return;
  const host = role === 'host' || role === 'admin';
  byId('publish-controls').hidden = !host;
  byId('not-host').hidden = host;
}

/** @param {import('../api.js').Snapshot} s */
function applySnapshot(s) {
  snap = s;
  showRole(s.role);
  const title = byId('room-title');
  setText(title, 'studio.title_room', { title: s.room.title || '' });
  pinnedID = s.pinned ? s.pinned.job_id : '';
  setStatus(s.room.status);
  if (typeof s.viewers === 'number') byId('viewer-count').textContent = fmtNumber(s.viewers);
  renderShelf(s.shelf);
}

/** @param {string} status */
function setStatus(status) {
  const pill = byId('room-status');
  pill.className = 'status-pill status-' + status;
  setText(pill, 'status.' + (status || 'scheduled'));
  if (status === 'ended') {
    goLive.disabled = true;
    setText(errBox, 'studio.room_ended');
    errBox.hidden = false;
  }
}

/** @type {import('../chat-ui.js').ChatPanel} */
let chat;
const channel = new RoomChannel(roomID, {
  onState: (st) => chat.notice(st === 'closed' ? 'chat.reconnecting' : st === 'kicked' ? 'chat.banned' : null),
  onEvent: (ev) => {
    const d = ev.data || {};
    switch (ev.type) {
      case 'welcome': {
        chat.setRole(d.role || 'seeker', true, me ? me.user.id : '');
        showRole(d.role);
        const s = d.snapshot || d;
        if (d.recovered !== true && s.room) applySnapshot({ room: s.room, shelf: s.shelf || [], pinned: s.pinned || null, exhibitors: s.exhibitors || [], viewers: d.viewers });
        void catchUpApplicants();
        break;
      }
      case 'chat':
        chat.add(ev);
        break;
      case 'chat.deleted':
        chat.remove(Number(d.seq));
        break;
      case 'pin':
        pinnedID = (d.card || d).job_id;
        if (snap) renderShelf(snap.shelf);
        break;
      case 'unpin':
        pinnedID = '';
        if (snap) renderShelf(snap.shelf);
        break;
      case 'shelf':
        if (snap) snap.shelf = d.jobs || [];
        renderShelf(d.jobs || []);
        break;
      case 'apply.count':
        for (const c of snap ? snap.shelf : []) if (c.job_id === d.job_id) c.applicants = d.total;
        for (const s of document.querySelectorAll(`.count[data-job="${CSS.escape(d.job_id)}"]`))
          setText(/** @type {HTMLElement} */ (s), 'studio.applicants_n', { n: fmtNumber(d.total) });
        break;
      case 'application':
        void addApplicant(d);
        break;
      case 'room.status':
        setStatus(d.status);
        break;
      case 'viewers':
        byId('viewer-count').textContent = fmtNumber(Number(d.count || 0));
        break;
      case 'error':
        chat.error(d.code || 'generic', d.message || '');
        break;
    }
  },
});
chat = chatPanel(roomID, channel);
chat.setRole('seeker', !!me, me ? me.user.id : '');

try {
  const s = await api.room(roomID);
  applySnapshot(s);
  const roomOrgs = new Set([s.room.org_id, ...s.exhibitors.map((o) => o.id)]);
  let mine = me ? me.orgs.map((o) => o.id).filter((o) => roomOrgs.has(o)) : [];
  if (!mine.length) mine = [s.room.org_id];
  orgJobs = (await Promise.all(mine.map((o) => api.orgJobs(o).catch(() => [])))).flat();
  renderOrgJobs();
} catch (e) {
  showError(errBox, e);
}
channel.connect();
void openDevices();
// Leaving the page stops the camera; the session is not DELETEd, so the
// server keeps the room live for its grace period and a reload can resume.
addEventListener('pagehide', () => {
  channel.close();
  if (session) session.pc.close();
});
markReady();
