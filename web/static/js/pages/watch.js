// @ts-check
/**
 * Watch page (/rooms/:id): WHEP video that starts by itself when the room
 * goes live, chat with recovery, the pinned job card with one-tap apply, the
 * job shelf, counters, an audio-only switch, "I need help", and moderator
 * tools for moderators, hosts and admins.
 */
import { api, ApiError } from '../api.js';
import { RoomChannel } from '../protocol.js';
import { play, MediaError } from '../media.js';
import { el, byId, initPage, pathID, announce, showError, signinURL, randomKey, markReady } from '../ui.js';
import { setText, setAttr, fmtNumber, fmtTime, t, has, onLangChange } from '../i18n.js';
import { jobCard, markApplied } from '../cards.js';
import { chatPanel, STAFF_ROLES } from '../chat-ui.js';

const roomID = pathID();
// Ask for the room at once, in parallel with the header's /api/me.
const firstSnapshot = api.room(roomID).then(
  (s) => ({ s, e: null }),
  (e) => ({ s: null, e }),
);
const me = await initPage('rooms');

/** @type {import('../api.js').Snapshot|null} */
let snap = null;
let role = 'visitor';
/** @type {Set<string>} jobs this user has applied to */
const applied = new Set();
/** @type {Map<string,string>} idempotency key per job for this page */
const keys = new Map();
/** @type {Map<string, import('../cards.js').CardView[]>} card views per job */
const views = new Map();
/** @type {Map<string, number>} applicant totals per job */
const totals = new Map();

const video = /** @type {HTMLVideoElement} */ (byId('video'));
const waiting = byId('waiting');
const audioOnly = /** @type {HTMLInputElement} */ (byId('audio-only'));
const unmute = /** @type {HTMLButtonElement} */ (byId('unmute'));
const statusPill = byId('room-status');
/** @type {HTMLAnchorElement} */ (byId('studio-link')).href = '/studio/' + encodeURIComponent(roomID);

/** Shows what the role may see: moderator tools, the studio link. */
function showRole() {
  modSection.hidden = !STAFF_ROLES.includes(role);
  void loadStaffLists();
  byId('studio-link').hidden = !(role === 'host' || role === 'admin');
}

if (me) {
  try {
    for (const a of await api.myApplications()) applied.add(a.job_id);
  } catch {
    /* the receipt still shows after applying */
  }
}

// ---- media -------------------------------------------------------------

/** @type {import('../media.js').Session|null} */
let session = null;
let wantPlay = false;
let starting = false;
let failures = 0;
/** @type {ReturnType<typeof setTimeout>|undefined} */
let retry;

/** @param {string} key */
function showWaiting(key) {
  setText(/** @type {HTMLElement} */ (waiting.firstElementChild), key);
  waiting.hidden = false;
}

async function startPlayback() {
  if (!wantPlay || starting || session) return;
  starting = true;
  clearTimeout(retry);
  try {
    const s = await play(`/api/rooms/${encodeURIComponent(roomID)}/whep`, {
      audioOnly: audioOnly.checked,
      onTrack: (stream) => {
        if (video.srcObject !== stream) video.srcObject = stream;
        void video.play().catch(() => undefined);
      },
      onState: (st) => {
        if (st === 'failed' || st === 'closed') restartPlayback();
        // "disconnected" often heals by itself (a lost consent check):
        // give it a few seconds before starting over.
        else if (st === 'disconnected')
          setTimeout(() => {
            if (session && session.pc.connectionState === 'disconnected') restartPlayback();
          }, 4000);
      },
    });
    if (!wantPlay) {
      void s.close();
      return;
    }
    session = s;
    failures = 0;
    if (audioOnly.checked) showWaiting('watch.audio_only_on');
  } catch (e) {
    if (e instanceof MediaError && (e.status === 401 || e.status === 403)) {
      showWaiting('watch.not_allowed');
      return;
    }
    if (e instanceof MediaError && e.code === 'room_ended') {
      setStatus('ended');
      return;
    }
    // The host may not be sending yet (503 room_not_live, with Retry-After),
    // or the network blipped: try again, backing off up to 10 s.
    failures++;
    const backoff = Math.min(10000, 500 * 2 ** Math.min(failures, 5));
    const hint = e instanceof MediaError && e.retryAfter ? e.retryAfter * 1000 : 0;
    if (wantPlay) retry = setTimeout(startPlayback, Math.max(backoff, Math.min(hint, 10000)));
  } finally {
    starting = false;
  }
}

/** Drops a broken session and plays again after a pause. */
function restartPlayback() {
  const old = session;
  if (!old) return;
  session = null;
  void old.close();
  if (wantPlay) {
    showWaiting('watch.reconnecting');
    clearTimeout(retry);
    retry = setTimeout(startPlayback, 1500);
  }
}

/**
 * @param {boolean} [serverGone] the broadcast ended on the server, which
 *   has dropped the session already (no DELETE then)
 */
function stopPlayback(serverGone = false) {
  clearTimeout(retry);
  const s = session;
  session = null;
  if (s) void s.close(!serverGone);
  video.srcObject = null;
}

video.addEventListener('playing', () => {
  if (!audioOnly.checked) waiting.hidden = true;
});

audioOnly.addEventListener('change', () => {
  stopPlayback();
  if (wantPlay) {
    showWaiting(audioOnly.checked ? 'watch.audio_only_on' : 'watch.connecting');
    void startPlayback();
  }
  video.classList.toggle('audio-only', audioOnly.checked);
});

unmute.addEventListener('click', () => {
  video.muted = !video.muted;
  setText(unmute, video.muted ? 'watch.unmute' : 'watch.mute');
  if (!video.muted) void video.play().catch(() => undefined);
});

/** @param {string} status */
function setStatus(status) {
  if (snap && snap.room) snap.room.status = status;
  statusPill.className = 'status-pill status-' + status;
  setText(statusPill, 'status.' + (status || 'scheduled'));
  if (status === 'live') {
    wantPlay = true;
    if (!session) showWaiting('watch.connecting');
    void startPlayback();
  } else {
    wantPlay = false;
    stopPlayback(status === 'ended');
    showWaiting(status === 'ended' ? 'watch.ended' : 'watch.waiting');
  }
}

// ---- cards, shelf, apply -----------------------------------------------

const profileDialog = /** @type {HTMLDialogElement} */ (byId('profile-dialog'));
const pdName = /** @type {HTMLInputElement} */ (byId('pd-name'));
const pdPhone = /** @type {HTMLInputElement} */ (byId('pd-phone'));
const pdCity = /** @type {HTMLInputElement} */ (byId('pd-city'));
const pdError = byId('pd-error');
/** @type {(() => void)|null} */
let afterProfile = null;

byId('pd-cancel').addEventListener('click', () => {
  afterProfile = null;
  profileDialog.close();
});
byId('profile-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  showError(pdError, null);
  const current = me ? me.profile : { full_name: '', phone: '', city: '', skills: [], summary: '', accessibility_needs: '' };
  const p = { ...current, full_name: pdName.value.trim(), phone: pdPhone.value.trim(), city: pdCity.value.trim() || current.city };
  try {
    await api.saveProfile(p);
    if (me) me.profile = p;
    profileDialog.close();
    const then = afterProfile;
    afterProfile = null;
    then?.();
  } catch (err) {
    showError(pdError, err);
  }
});

/**
 * One-tap apply for a job.
 * @param {import('../api.js').JobCard} card
 * @param {import('../cards.js').CardView} view
 */
async function apply(card, view) {
  if (!me) {
    location.href = signinURL();
    return;
  }
  if (!view.apply) return;
  view.apply.disabled = true;
  setText(view.receipt, 'apply.sending');
  let key = keys.get(card.job_id);
  if (!key) {
    key = randomKey();
    keys.set(card.job_id, key);
  }
  try {
    await api.apply(roomID, card.job_id, key);
    applied.add(card.job_id);
    for (const v of views.get(card.job_id) || []) markApplied(v);
    announce('apply.announce_done', { title: card.title });
  } catch (e) {
    view.apply.disabled = false;
    // Keep the key only when the answer may not have arrived (a retry must
    // not apply twice); after a definite refusal the next try is a new one.
    if (!(e instanceof ApiError) || e.status !== 0) keys.delete(card.job_id);
    if (e instanceof ApiError && e.code === 'profile_incomplete') {
      setText(view.receipt, 'apply.need_profile');
      pdName.value = me.profile.full_name;
      pdPhone.value = me.profile.phone;
      pdCity.value = me.profile.city;
      afterProfile = () => void apply(card, view);
      profileDialog.showModal();
      (e.fields.includes('full_name') || !pdName.value ? pdName : pdPhone).focus();
      return;
    }
    if (e instanceof ApiError && e.status === 401) {
      location.href = signinURL();
      return;
    }
    showError(view.receipt, e);
    view.receipt.hidden = false;
    announce('apply.announce_failed', { title: card.title });
  }
}

/**
 * @param {import('../api.js').JobCard} card
 * @param {boolean} big
 * @param {string} prefix
 */
function renderCard(card, big, prefix) {
  if (totals.has(card.job_id)) card.applicants = /** @type {number} */ (totals.get(card.job_id));
  const v = jobCard(card, { headingLevel: 3, applyLabel: big ? 'apply.button_big' : 'apply.button', big, idPrefix: prefix });
  const list = views.get(card.job_id) || [];
  list.push(v);
  views.set(card.job_id, list);
  if (applied.has(card.job_id)) markApplied(v);
  else v.apply?.addEventListener('click', () => void apply(card, v));
  return v;
}

function forgetViews() {
  for (const [id, list] of views) {
    const alive = list.filter((v) => v.root.isConnected);
    if (alive.length) views.set(id, alive);
    else views.delete(id);
  }
}

/**
 * @param {import('../api.js').JobCard|null} card
 * @param {boolean} announceIt
 */
function renderPinned(card, announceIt) {
  const box = byId('pinned-card');
  box.replaceChildren();
  if (!card) {
    box.append(el('p', { cls: 'muted', i18n: 'watch.no_pin' }));
  } else {
    box.append(renderCard(card, true, 'pin').root);
    if (announceIt) announce('watch.pin_announce', { title: card.title });
  }
  forgetViews();
}

/** @param {import('../api.js').JobCard[]} shelf */
function renderShelf(shelf) {
  const ul = byId('shelf');
  ul.replaceChildren();
  if (!shelf.length) ul.append(el('li', { cls: 'muted', i18n: 'watch.no_jobs' }));
  for (const c of shelf) ul.append(el('li', {}, renderCard(c, false, 'shelf').root));
  forgetViews();
}

// ---- recommendations and the advisor's messages --------------------------

const REASONS = ['accessible', 'same_city', 'remote', 'skill', 'graduate', 'no_experience', 'on_shelf', 'open_elsewhere'];

/**
 * Shows the jobs recommended to this seeker (the recommendations event).
 * @param {{jobs?: {card: import('../api.js').JobCard, room_id: string, reasons?: {code: string, value?: string}[]}[]}} d
 */
function renderRecs(d) {
  const ul = byId('recs-list');
  ul.replaceChildren();
  const jobs = (d.jobs || []).filter((j) => j && j.card);
  byId('recs').hidden = !jobs.length;
  for (const j of jobs) {
    const here = j.room_id === roomID;
    const v = here ? renderCard(j.card, false, 'rec') : jobCard(j.card, { headingLevel: 3, idPrefix: 'rec' });
    const reasons = el('ul', { cls: 'reasons' });
    for (const r of j.reasons || [])
      if (REASONS.includes(r.code)) reasons.append(el('li', { i18n: 'recs.reason.' + r.code, args: { value: r.value || '' } }));
    v.root.insertBefore(reasons, v.root.querySelector('.facts'));
    if (!here && j.room_id) v.root.append(el('a', { cls: 'button secondary', attrs: { href: '/rooms/' + encodeURIComponent(j.room_id) }, i18n: 'recs.other_room' }));
    ul.append(el('li', {}, v.root));
  }
  forgetViews();
}

/** advisor (or host) who wrote to this seeker, for replies */
let advisorID = '';

/** @param {string} withUser */
async function loadThread(withUser) {
  advisorID = withUser;
  const msgs = await api.thread(roomID, withUser);
  const ol = byId('dm-list');
  ol.replaceChildren();
  for (const m of msgs) {
    const li = el('li', { cls: 'msg' + (me && m.from_id === me.user.id ? ' mine' : '') });
    li.append(el('span', { cls: 'who', i18n: me && m.from_id === me.user.id ? 'dm.you' : 'dm.advisor' }), el('span', { cls: 'text', text: m.text }));
    ol.append(li);
  }
  byId('dm').hidden = false;
}

byId('dm-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('dm-text'));
  const st = byId('dm-status');
  if (!advisorID || !input.value.trim()) return;
  try {
    await api.sendDirect(roomID, advisorID, input.value.trim());
    input.value = '';
    showError(st, null);
    await loadThread(advisorID);
  } catch (err) {
    showError(st, err);
    st.hidden = false;
  }
});

// ---- help --------------------------------------------------------------

const helpBtn = /** @type {HTMLButtonElement} */ (byId('help'));
helpBtn.hidden = !me;
helpBtn.addEventListener('click', async () => {
  const st = byId('help-status');
  try {
    await api.help(roomID);
    setText(st, 'watch.help_sent');
    helpBtn.disabled = true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.code !== 'room_not_found') {
      helpBtn.hidden = true;
      setText(st, 'watch.help_unavailable');
      return;
    }
    showError(st, e);
    st.hidden = false;
  }
});

// ---- moderator tools ---------------------------------------------------

const modSection = byId('mod');
const slow = /** @type {HTMLSelectElement} */ (byId('slow'));
const chatMode = /** @type {HTMLSelectElement} */ (byId('chat-mode'));
const blocked = /** @type {HTMLTextAreaElement} */ (byId('blocked'));

/** @param {Partial<import('../api.js').RoomSettings>|undefined} s */
function showSettings(s) {
  if (!s) return;
  const secs = String(s.slow_mode_seconds || 0);
  if (![...slow.options].some((o) => o.value === secs)) slow.append(el('option', { attrs: { value: secs }, i18n: 'mod.slow_n', args: { n: secs } }));
  slow.value = secs;
  chatMode.value = s.chat || 'open';
  if (document.activeElement !== blocked) blocked.value = (s.blocked_words || []).join('\n');
  if (s.chat === 'off') chat.notice('chat.off_notice');
  else if (s.slow_mode_seconds) chat.notice('chat.slow_notice', { n: s.slow_mode_seconds });
  else chat.notice(null);
}

byId('settings-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const st = byId('settings-status');
  try {
    await api.settings(roomID, {
      slow_mode_seconds: Number(slow.value),
      chat: chatMode.value,
      blocked_words: blocked.value.split('\n').map((w) => w.trim()).filter(Boolean),
    });
    setText(st, 'mod.saved');
  } catch (err) {
    showError(st, err);
    st.hidden = false;
  }
});

/** @type {Set<string>} held message ids already listed */
const heldIDs = new Set();

/**
 * Lists one held message with Approve / Reject and the author's time-out and ban.
 * @param {any} m the held chat message (ChatData)
 * @param {boolean} announceIt
 */
function addHeld(m, announceIt) {
  if (!m || !m.id || heldIDs.has(m.id)) return;
  heldIDs.add(m.id);
  const li = el('li', { cls: 'msg' });
  li.append(el('span', { cls: 'who', text: m.name || '' }), el('span', { cls: 'text', text: m.text || '' }));
  const st = byId('settings-status');
  /** @param {string} key @param {string} cls @param {() => Promise<unknown>} act */
  const btn = (key, cls, act) =>
    el('button', {
      cls: 'small ' + cls,
      attrs: { type: 'button' },
      i18n: key,
      onclick: async () => {
        try {
          await act();
          li.remove();
          heldIDs.delete(m.id);
        } catch (err) {
          showError(st, err);
          st.hidden = false;
        }
      },
    });
  li.append(
    el(
      'span',
      { cls: 'mod-tools' },
      btn('mod.approve', '', () => api.decideHeld(roomID, m.id, true)),
      btn('mod.reject', 'secondary', () => api.decideHeld(roomID, m.id, false)),
      btn('mod.timeout', 'secondary', () => api.mute(roomID, m.user_id, 300, t('mod.default_reason'))),
      btn('mod.ban', 'danger', () => api.ban(roomID, m.user_id, t('mod.default_reason'))),
    ),
  );
  byId('held').append(li);
  if (announceIt) announce('mod.held_announce');
}

let staffLoaded = false;
/** Loads the pending held messages and the bans once the user is staff. */
async function loadStaffLists() {
  if (staffLoaded || !STAFF_ROLES.includes(role)) return;
  staffLoaded = true;
  try {
    for (const h of await api.held(roomID)) if (!h.status || h.status === 'pending') addHeld({ ...h.message, id: h.message?.id || h.id }, false);
  } catch {
    /* the live chat.held events still arrive */
  }
  await loadBans();
}

async function loadBans() {
  const ul = byId('bans');
  try {
    const bans = await api.bans(roomID);
    ul.replaceChildren();
    if (!bans.length) ul.append(el('li', { cls: 'muted', i18n: 'mod.no_bans' }));
    for (const b of bans) {
      const un = el('button', {
        cls: 'small secondary',
        attrs: { type: 'button' },
        i18n: 'mod.unban',
        onclick: async () => {
          try {
            await api.unban(roomID, b.user_id);
            await loadBans();
          } catch (err) {
            showError(byId('settings-status'), err);
          }
        },
      });
      setAttr(un, 'aria-label', 'mod.unban_user', { name: b.name || '' });
      ul.append(el('li', {}, el('span', { text: b.name || b.user_id }), un));
    }
  } catch {
    ul.replaceChildren();
  }
}

/**
 * Ids are shown by their first characters (the audit log stores ids only).
 * @param {string|undefined} id
 */
function shortID(id) {
  return id ? id.slice(0, 8) + '…' : '';
}

byId('audit-load').addEventListener('click', async () => {
  const box = byId('audit');
  try {
    const rows = await api.audit(roomID);
    const table = el('table', {}, el('caption', { i18n: 'mod.audit' }));
    const head = el('tr');
    for (const k of ['audit.time', 'audit.actor', 'audit.action', 'audit.target', 'audit.reason'])
      head.append(el('th', { attrs: { scope: 'col' }, i18n: k }));
    table.append(el('thead', {}, head));
    const body = el('tbody');
    for (const r of rows) {
      const tr = el('tr');
      const action = 'audit.act.' + r.action;
      tr.append(
        el('td', { text: fmtTime(r.at || r.created_at) }),
        el('td', { text: r.actor_name || shortID(r.actor_id) }),
        has(action) ? el('td', { i18n: action }) : el('td', { text: r.action || '' }),
        el('td', { text: r.target_name || shortID(r.target_id) }),
        el('td', { text: r.reason || '' }),
      );
      body.append(tr);
    }
    if (!rows.length) body.append(el('tr', {}, el('td', { attrs: { colspan: '5' }, i18n: 'mod.audit_empty' })));
    table.append(body);
    box.replaceChildren(table);
  } catch (err) {
    const p = el('p', { cls: 'error', attrs: { role: 'alert' } });
    showError(p, err);
    box.replaceChildren(p);
  }
});

// ---- the channel -------------------------------------------------------

/** @param {import('../api.js').Snapshot} s */
function applySnapshot(s) {
  snap = s;
  const room = s.room || /** @type {any} */ ({});
  const title = byId('room-title');
  delete title.dataset.i18n;
  title.textContent = room.title || '';
  document.title = (room.title || '') + ' · ' + t('app.name');
  byId('room-org').textContent = room.org_name || (s.exhibitors[0] && s.exhibitors[0].name) || '';
  renderShelf(s.shelf);
  renderPinned(s.pinned, false);
  if (typeof s.viewers === 'number') byId('viewer-count').textContent = fmtNumber(s.viewers);
  showSettings(room.settings);
  setStatus(room.status);
  if (s.role && role === 'visitor') {
    role = s.role;
    chat.setRole(role, !!me, me ? me.user.id : '');
    showRole();
  }
}

/** @type {import('../chat-ui.js').ChatPanel} */
let chat;

const channel = new RoomChannel(roomID, {
  onState: (st) => {
    if (st === 'closed') chat.notice('chat.reconnecting');
    else if (st === 'open') chat.notice(null);
    else if (st === 'kicked') {
      chat.notice('chat.banned');
      chat.setRole('visitor', false, '');
    }
  },
  onEvent: (ev) => {
    const d = ev.data || {};
    switch (ev.type) {
      case 'welcome': {
        role = d.role || (me ? 'seeker' : 'visitor');
        chat.setRole(role, !!me, me ? me.user.id : '');
        showRole();
        if (d.recovered !== true) applySnapshot(/** @type {any} */ (normalizeWelcome(d)));
        if (typeof d.viewers === 'number') byId('viewer-count').textContent = fmtNumber(d.viewers);
        break;
      }
      case 'chat':
        chat.add(ev);
        break;
      case 'chat.deleted':
        chat.remove(Number(d.seq));
        break;
      case 'chat.held':
        addHeld(d.message || d, true);
        break;
      case 'pin':
        renderPinned(d.card || d, true);
        break;
      case 'unpin':
        renderPinned(null, false);
        announce('watch.unpin_announce');
        break;
      case 'shelf':
        if (snap) snap.shelf = d.jobs || [];
        renderShelf(d.jobs || []);
        break;
      case 'apply.count':
        totals.set(d.job_id, Number(d.total));
        for (const v of views.get(d.job_id) || []) v.setApplicants(Number(d.total));
        break;
      case 'room.status':
        setStatus(d.status);
        break;
      case 'settings':
        showSettings(d.settings || d);
        break;
      case 'viewers':
        byId('viewer-count').textContent = fmtNumber(Number(d.count || 0));
        break;
      case 'muted':
        chat.notice('chat.muted_until', { time: fmtTime(d.until) });
        break;
      case 'banned':
        chat.notice('chat.banned');
        chat.setRole('visitor', false, '');
        wantPlay = false;
        stopPlayback();
        showWaiting('watch.not_allowed');
        channel.close();
        break;
      case 'error':
        chat.error(d.code || 'generic', d.message || '');
        break;
      case 'recommendations':
        renderRecs(d);
        break;
      case 'dm':
        // Ids only on the wire: the text is read through the API.
        if (me && d.from_id && d.from_id !== me.user.id)
          void loadThread(d.from_id).then(
            () => announce('dm.announce'),
            () => undefined,
          );
        break;
    }
  },
});

/**
 * The welcome event carries the snapshot either flat or under "snapshot".
 * @param {any} d
 */
function normalizeWelcome(d) {
  const s = d.snapshot || d;
  return {
    room: s.room || {},
    shelf: s.shelf || [],
    pinned: s.pinned || null,
    exhibitors: s.exhibitors || [],
    viewers: typeof d.viewers === 'number' ? d.viewers : s.viewers,
  };
}

chat = chatPanel(roomID, channel);
chat.setRole(me ? 'seeker' : 'visitor', !!me, me ? me.user.id : '');

// The REST snapshot paints the page at once (also when WebSocket is slow).
const first = await firstSnapshot;
if (first.s) applySnapshot(first.s);
else {
  const title = byId('room-title');
  if (first.e instanceof ApiError && first.e.status === 404) setText(title, 'watch.not_found');
  else setText(title, 'error.network');
  showWaiting('watch.unavailable');
}
channel.connect();
onLangChange(() => {
  if (snap) document.title = (snap.room.title || '') + ' · ' + t('app.name');
});
addEventListener('pagehide', () => {
  channel.close();
  stopPlayback();
});
markReady();
