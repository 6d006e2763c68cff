// @ts-check
/**
 * Employer dashboard (/dashboard): create an org and add members; create,
 * edit and close jobs with tags; schedule rooms and manage exhibitors,
 * moderators and the OBS stream key; process applicants (filters, status,
 * notes, CSV export); a per-room summary chart drawn in SVG.
 */
import { api, ApiError } from '../api.js';
import { el, byId, initPage, showError, signinURL, copy, announce, markReady } from '../ui.js';
import { setText, setAttr, fmtTime, fmtNumber, onLangChange } from '../i18n.js';
import { tagList } from '../cards.js';

const me = await initPage('dashboard');
if (!me) location.replace(signinURL());

const ORGS_KEY = 'jobcast.orgs';
const orgSel = /** @type {HTMLSelectElement} */ (byId('org'));

/** @type {import('../api.js').OrgRef[]} */
let orgs = me ? [...me.orgs] : [];
try {
  // Orgs created from this browser, in case /api/me does not list them.
  for (const o of JSON.parse(localStorage.getItem(ORGS_KEY) || '[]')) if (!orgs.some((x) => x.id === o.id)) orgs.push(o);
} catch {
  /* ignore */
}
let org = '';
/** @type {import('../api.js').Job[]} */
let jobs = [];
/** @type {import('../api.js').Room[]} */
let rooms = [];
/** @type {import('../api.js').Application[]} */
let apps = [];

function paintOrgs() {
  orgSel.replaceChildren();
  for (const o of orgs) orgSel.append(el('option', { attrs: { value: o.id }, text: o.name || o.id }));
  byId('org-pick').hidden = !orgs.length;
  if (org) orgSel.value = org;
  byId('org-id-row').hidden = !org;
  /** @type {HTMLInputElement} */ (byId('org-id')).value = org;
}

byId('org-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = /** @type {HTMLInputElement} */ (byId('org-name'));
  const st = byId('org-status');
  try {
    const o = await api.createOrg(name.value.trim());
    orgs.push({ id: o.id, name: o.name });
    localStorage.setItem(ORGS_KEY, JSON.stringify(orgs.map((x) => ({ id: x.id, name: x.name }))));
    name.value = '';
    org = o.id;
    paintOrgs();
    setText(st, 'dash.org_created', { name: o.name });
    await loadOrg();
  } catch (x) {
    showError(st, x);
  }
});
orgSel.addEventListener('change', () => {
  org = orgSel.value;
  /** @type {HTMLInputElement} */ (byId('org-id')).value = org;
  void loadOrg();
});

// ---- members -----------------------------------------------------------

async function loadMembers() {
  const ul = byId('members');
  ul.replaceChildren();
  try {
    const ms = await api.members(org);
    for (const m of ms) ul.append(el('li', {}, el('span', { text: m.name || m.email || m.user_id }), document.createTextNode(' · '), el('span', { i18n: 'orgrole.' + m.role })));
  } catch (x) {
    if (!(x instanceof ApiError && (x.status === 404 || x.status === 405))) {
      const li = el('li', { cls: 'error' });
      showError(li, x);
      ul.append(li);
    }
  }
}

byId('member-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const st = byId('member-status');
  const email = /** @type {HTMLInputElement} */ (byId('m-email'));
  try {
    await api.addMember(org, email.value.trim(), /** @type {HTMLSelectElement} */ (byId('m-role')).value);
    email.value = '';
    setText(st, 'dash.member_added');
    await loadMembers();
  } catch (x) {
    showError(st, x);
  }
});

// ---- jobs --------------------------------------------------------------

let editing = '';
const jobForm = /** @type {HTMLFormElement} */ (byId('job-form'));
/** @param {string} id */
const iv = (id) => /** @type {HTMLInputElement} */ (byId(id));

/** @returns {Partial<import('../api.js').Job>} */
function jobFromForm() {
  const tags = [...jobForm.querySelectorAll('input[name=tag]:checked')].map((x) => /** @type {HTMLInputElement} */ (x).value);
  for (const tg of iv('j-tags').value.split(/[,，\s]+/)) if (tg.trim()) tags.push(tg.trim().toLowerCase());
  return {
    title: iv('j-title').value.trim(),
    description: /** @type {HTMLTextAreaElement} */ (byId('j-desc')).value.trim(),
    city: iv('j-city').value.trim(),
    salary_min: Number(iv('j-min').value || 0),
    salary_max: Number(iv('j-max').value || 0),
    salary_period: /** @type {HTMLSelectElement} */ (byId('j-period')).value,
    openings: Number(iv('j-openings').value || 0),
    tags,
  };
}

/** @param {import('../api.js').Job|null} j */
function fillJobForm(j) {
  editing = j ? j.id : '';
  jobForm.reset();
  setText(byId('job-form-h'), j ? 'dash.job_edit' : 'dash.job_new');
  setText(byId('job-submit'), j ? 'dash.job_save' : 'dash.job_create');
  byId('job-cancel').hidden = !j;
  if (!j) return;
  iv('j-title').value = j.title;
  /** @type {HTMLTextAreaElement} */ (byId('j-desc')).value = j.description || '';
  iv('j-city').value = j.city || '';
  iv('j-min').value = String(j.salary_min || '');
  iv('j-max').value = String(j.salary_max || '');
  /** @type {HTMLSelectElement} */ (byId('j-period')).value = j.salary_period || 'month';
  iv('j-openings').value = String(j.openings || 0);
  const known = ['accessible', 'graduate', 'no_experience', 'remote'];
  for (const c of jobForm.querySelectorAll('input[name=tag]')) {
    const cb = /** @type {HTMLInputElement} */ (c);
    cb.checked = (j.tags || []).includes(cb.value);
  }
  iv('j-tags').value = (j.tags || []).filter((x) => !known.includes(x)).join(', ');
  iv('j-title').focus();
}

byId('job-cancel').addEventListener('click', () => fillJobForm(null));
jobForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const st = byId('job-status');
  try {
    if (editing) await api.patchJob(editing, jobFromForm());
    else await api.createJob(org, jobFromForm());
    setText(st, editing ? 'dash.job_saved' : 'dash.job_created');
    fillJobForm(null);
    await loadJobs();
  } catch (x) {
    showError(st, x);
  }
});

async function loadJobs() {
  jobs = await api.orgJobs(org).catch(() => []);
  const ul = byId('jobs');
  ul.replaceChildren();
  if (!jobs.length) ul.append(el('li', { cls: 'muted', i18n: 'dash.no_jobs' }));
  for (const j of jobs) {
    const li = el('li', { cls: 'job-row' + (j.status === 'closed' ? ' closed' : '') });
    li.append(el('strong', { text: j.title }), el('span', { cls: 'status-pill', i18n: 'jobstatus.' + j.status }), tagList(j.tags));
    const edit = el('button', { cls: 'small secondary', attrs: { type: 'button' }, i18n: 'dash.edit', onclick: () => fillJobForm(j) });
    setAttr(edit, 'aria-label', 'dash.edit_job', { title: j.title });
    const toggle = el('button', {
      cls: 'small secondary',
      attrs: { type: 'button' },
      i18n: j.status === 'closed' ? 'dash.reopen' : 'dash.close',
      onclick: async () => {
        try {
          await api.patchJob(j.id, { status: j.status === 'closed' ? 'open' : 'closed' });
          await loadJobs();
        } catch (x) {
          showError(byId('job-status'), x);
        }
      },
    });
    setAttr(toggle, 'aria-label', j.status === 'closed' ? 'dash.reopen_job' : 'dash.close_job', { title: j.title });
    li.append(el('span', { cls: 'row' }, edit, toggle));
    ul.append(li);
  }
  fillFilter('f-job', jobs.map((j) => [j.id, j.title]));
}

// ---- rooms -------------------------------------------------------------

byId('room-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const st = byId('room-status');
  const starts = iv('r-start').value;
  try {
    await api.createRoom({
      title: iv('r-title').value.trim(),
      description: /** @type {HTMLTextAreaElement} */ (byId('r-desc')).value.trim(),
      org_id: org,
      starts_at: new Date(starts).toISOString(),
    });
    /** @type {HTMLFormElement} */ (byId('room-form')).reset();
    setText(st, 'dash.room_created');
    await loadRooms();
  } catch (x) {
    showError(st, x);
  }
});

/**
 * Small inline form: one input and a button.
 * @param {string} id
 * @param {string} labelKey
 * @param {string} buttonKey
 * @param {string} type
 * @param {(v: string) => Promise<unknown>} act
 * @param {HTMLElement} status
 */
function miniForm(id, labelKey, buttonKey, type, act, status) {
  const inp = el('input', { attrs: { id, type, required: '' } });
  const f = el('form', { cls: 'inline-form' }, el('div', { cls: 'field' }, el('label', { attrs: { for: id }, i18n: labelKey }), inp), el('button', { attrs: { type: 'submit' }, i18n: buttonKey }));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await act(inp.value.trim());
      inp.value = '';
      setText(status, 'dash.done');
    } catch (x) {
      showError(status, x);
    }
  });
  return f;
}

async function loadRooms() {
  const all = (await Promise.all(['live', 'scheduled', 'ended'].map((s) => api.rooms(s, org).catch(() => [])))).flat();
  rooms = all.filter((r) => r.org_id === org);
  const ul = byId('rooms');
  ul.replaceChildren();
  if (!rooms.length) ul.append(el('li', { cls: 'muted', i18n: 'dash.no_rooms' }));
  for (const r of rooms) {
    const li = el('li', { cls: 'room-row' });
    const st = el('p', { cls: 'notice', attrs: { role: 'status' } });
    const links = el(
      'p',
      { cls: 'row' },
      el('a', { cls: 'button', attrs: { href: '/studio/' + encodeURIComponent(r.id) }, i18n: 'dash.open_studio' }),
      el('a', { cls: 'button secondary', attrs: { href: '/rooms/' + encodeURIComponent(r.id) }, i18n: 'dash.open_watch' }),
    );
    const h = el('h3', { text: r.title });
    li.append(h, el('p', { cls: 'room-meta' }, el('span', { cls: 'status-pill status-' + r.status, i18n: 'status.' + r.status }), document.createTextNode(' '), el('time', { attrs: { datetime: r.starts_at }, text: fmtTime(r.starts_at) })), links);
    const details = el('details', {}, el('summary', { i18n: 'dash.room_manage' }));
    details.append(
      miniForm('ex-' + r.id, 'dash.exhibitor_org', 'dash.exhibitor_add', 'text', (v) => api.addExhibitor(r.id, v), st),
      miniForm('mod-' + r.id, 'dash.moderator_email', 'dash.moderator_add', 'email', (v) => api.addModerator(r.id, v), st),
    );
    // Stream key for OBS. The server keeps only a hash: the full key is
    // shown once, when a new one is made; afterwards only its last characters.
    const keyId = 'key-' + r.id;
    const urlId = 'whip-' + r.id;
    const whipInput = el('input', { attrs: { id: urlId, type: 'text', readonly: '' } });
    whipInput.value = location.origin + '/api/rooms/' + r.id + '/whip';
    const keyInput = el('input', { attrs: { id: keyId, type: 'text', readonly: '', autocomplete: 'off' } });
    const keyRow = el('div', { cls: 'field' }, el('label', { attrs: { for: keyId }, i18n: 'dash.stream_key' }), keyInput,
      el('p', { cls: 'hint', i18n: 'dash.key_once' }));
    keyRow.hidden = true;
    const keyState = el('p', { cls: 'hint', attrs: { role: 'status' } });
    /** @param {string} text @param {HTMLInputElement} inp */
    const copyBtn = (text, inp) => {
      const b = el('button', {
        cls: 'small secondary',
        attrs: { type: 'button' },
        i18n: text,
        onclick: async () => {
          const ok = await copy(inp.value, inp);
          setText(st, ok ? 'dash.copied' : 'dash.copy_manual');
          announce(ok ? 'dash.copied' : 'dash.copy_manual');
        },
      });
      return b;
    };
    const keyCopy = copyBtn('dash.key_copy', keyInput);
    const rot = el('button', {
      cls: 'small danger',
      attrs: { type: 'button' },
      i18n: 'dash.key_rotate',
      onclick: async () => {
        try {
          const k = await api.rotateStreamKey(r.id);
          keyInput.value = k.key || '';
          keyRow.hidden = false;
          setText(keyState, 'dash.key_hint', { hint: k.hint || '' });
          setText(st, 'dash.key_rotated');
          keyInput.focus();
          keyInput.select();
        } catch (x) {
          showError(st, x);
        }
      },
    });
    details.addEventListener('toggle', async () => {
      if (!details.open || keyState.dataset.loaded) return;
      keyState.dataset.loaded = '1';
      try {
        const k = await api.streamKey(r.id);
        if (k.whip_url) whipInput.value = new URL(k.whip_url, location.href).toString();
        if (k.has_key) setText(keyState, 'dash.key_hint', { hint: k.hint || '' });
        else setText(keyState, 'dash.key_none');
      } catch (x) {
        showError(keyState, x);
      }
    });
    details.append(
      el('h4', { i18n: 'dash.obs' }),
      el('div', { cls: 'field' }, el('label', { attrs: { for: urlId }, i18n: 'dash.whip_url' }), whipInput),
      el('p', { cls: 'row' }, copyBtn('dash.url_copy', whipInput)),
      el('p', { cls: 'hint', i18n: 'dash.obs_hint' }),
      keyState,
      keyRow,
      el('p', { cls: 'row' }, rot, keyCopy),
    );
    if (r.status !== 'ended') {
      const end = el('button', {
        cls: 'small danger',
        attrs: { type: 'button' },
        i18n: 'dash.room_end',
        onclick: async () => {
          if (end.dataset.armed !== '1') {
            end.dataset.armed = '1';
            setText(end, 'dash.room_end_confirm');
            return;
          }
          try {
            await api.endRoom(r.id);
            await loadRooms();
          } catch (x) {
            showError(st, x);
          }
        },
      });
      details.append(el('p', {}, end));
    }
    li.append(details, st);
    ul.append(li);
  }
  fillFilter('f-room', rooms.map((r) => [r.id, r.title]));
  const sRoom = /** @type {HTMLSelectElement} */ (byId('s-room'));
  const keep = sRoom.value;
  sRoom.replaceChildren();
  for (const r of rooms) sRoom.append(el('option', { attrs: { value: r.id }, text: r.title }));
  if (keep) sRoom.value = keep;
}

/**
 * @param {string} id select id
 * @param {[string,string][]} options value → literal label
 */
function fillFilter(id, options) {
  const s = /** @type {HTMLSelectElement} */ (byId(id));
  const keep = s.value;
  s.replaceChildren(el('option', { attrs: { value: '' }, i18n: 'dash.f_any' }));
  for (const [v, label] of options) s.append(el('option', { attrs: { value: v }, text: label }));
  s.value = keep;
}

// ---- applicants --------------------------------------------------------

const NEXT = /** @type {Record<string,string[]>} */ ({
  new: ['reviewed', 'rejected'],
  reviewed: ['interview', 'rejected'],
  interview: ['offer', 'rejected'],
  offer: ['hired', 'rejected'],
});

function filters() {
  return {
    job: /** @type {HTMLSelectElement} */ (byId('f-job')).value,
    room: /** @type {HTMLSelectElement} */ (byId('f-room')).value,
    status: /** @type {HTMLSelectElement} */ (byId('f-status')).value,
  };
}

async function loadApps() {
  const st = byId('apps-status');
  const f = filters();
  /** @type {HTMLAnchorElement} */ (byId('csv')).href = api.csvURL(org, f);
  try {
    apps = await api.applications(org, f);
    showError(st, null);
    st.hidden = false;
    setText(st, 'dash.apps_n', { n: apps.length });
  } catch (x) {
    apps = [];
    showError(st, x);
  }
  const body = byId('apps-body');
  body.replaceChildren();
  for (const a of apps) {
    const p = a.profile || {};
    const tr = el('tr');
    const statusSel = el('select', { attrs: { id: 'st-' + a.id } });
    setAttr(statusSel, 'aria-label', 'dash.status_of', { name: p.full_name || '' });
    for (const s of [a.status, ...(NEXT[a.status] || [])]) statusSel.append(el('option', { attrs: { value: s }, i18n: 'appstatus.' + s }));
    statusSel.disabled = !(NEXT[a.status] || []).length;
    statusSel.addEventListener('change', async () => {
      try {
        await api.patchApplication(a.id, { status: statusSel.value });
        announce('dash.status_changed');
        await loadApps();
      } catch (x) {
        showError(st, x);
      }
    });
    const notes = el('textarea', { attrs: { rows: '2', maxlength: '2000' } });
    notes.value = a.notes || '';
    setAttr(notes, 'aria-label', 'dash.notes_of', { name: p.full_name || '' });
    const save = el('button', {
      cls: 'small secondary',
      attrs: { type: 'button' },
      i18n: 'dash.notes_save',
      onclick: async () => {
        try {
          await api.patchApplication(a.id, { notes: notes.value });
          announce('dash.notes_saved');
        } catch (x) {
          showError(st, x);
        }
      },
    });
    const nameCell = el('td', {}, el('span', { text: p.full_name || '' }));
    if (p.accessibility_needs) nameCell.append(el('p', { cls: 'hint', text: p.accessibility_needs }));
    tr.append(
      nameCell,
      el('td', { text: [p.phone, p.city].filter(Boolean).join(' · ') }),
      el('td', { text: a.job_title || (jobs.find((j) => j.id === a.job_id) || { title: '' }).title }),
      el('td', { text: fmtTime(a.created_at) }),
      el('td', {}, statusSel),
      el('td', {}, notes, save),
    );
    body.append(tr);
  }
  drawSummary();
}

byId('app-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  void loadApps();
});

// ---- summary chart -----------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
/**
 * @param {string} tag
 * @param {Record<string,string|number>} attrs
 * @returns {SVGElement}
 */
function svg(tag, attrs) {
  const e = /** @type {SVGElement} */ (document.createElementNS(SVG, tag));
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * A horizontal bar chart with a data table for screen readers.
 * @param {string} titleKey
 * @param {[string, number][]} rows label → value
 * @returns {HTMLElement}
 */
function barChart(titleKey, rows) {
  const fig = el('figure', { cls: 'chart' });
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const rowH = 28;
  const h = rows.length * rowH + 10;
  const s = svg('svg', { viewBox: `0 0 400 ${h}`, width: '100%', role: 'img', 'aria-hidden': 'true', focusable: 'false' });
  rows.forEach(([label, v], i) => {
    const y = i * rowH + 5;
    const w = Math.max(2, (v / max) * 220);
    const lt = svg('text', { x: 0, y: y + 17, class: 'chart-label' });
    lt.textContent = label.length > 22 ? label.slice(0, 21) + '…' : label;
    const bar = svg('rect', { x: 150, y, width: w, height: rowH - 8, rx: 3, class: 'chart-bar' });
    const vt = svg('text', { x: 150 + w + 6, y: y + 17, class: 'chart-value' });
    vt.textContent = fmtNumber(v);
    s.append(lt, bar, vt);
  });
  fig.append(el('figcaption', { i18n: titleKey }), s);
  const table = el('table', { cls: 'sr-only' });
  for (const [label, v] of rows) table.append(el('tr', {}, el('th', { attrs: { scope: 'row' }, text: label }), el('td', { text: fmtNumber(v) })));
  fig.append(table);
  return fig;
}

/**
 * A line chart of a time series, with a data table for screen readers.
 * @param {string} titleKey
 * @param {{at: string, count: number}[]} points
 * @returns {HTMLElement}
 */
function lineChart(titleKey, points) {
  const fig = el('figure', { cls: 'chart' });
  const W = 400;
  const H = 160;
  const max = Math.max(1, ...points.map((p) => p.count));
  const t0 = new Date(points[0].at).getTime();
  const t1 = Math.max(t0 + 1, new Date(points[points.length - 1].at).getTime());
  const xy = points.map((p) => [30 + ((new Date(p.at).getTime() - t0) / (t1 - t0)) * (W - 40), H - 20 - (p.count / max) * (H - 40)]);
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', 'aria-hidden': 'true', focusable: 'false' });
  s.append(svg('line', { x1: 30, y1: H - 20, x2: W - 10, y2: H - 20, class: 'chart-axis' }));
  s.append(svg('polyline', { points: xy.map((p) => p.join(',')).join(' '), class: 'chart-line', fill: 'none' }));
  const top = svg('text', { x: 0, y: 20, class: 'chart-value' });
  top.textContent = fmtNumber(max);
  s.append(top);
  fig.append(el('figcaption', { i18n: titleKey }), s);
  const table = el('table', { cls: 'sr-only' });
  for (const p of points) table.append(el('tr', {}, el('th', { attrs: { scope: 'row' }, text: fmtTime(p.at) }), el('td', { text: fmtNumber(p.count) })));
  fig.append(table);
  return fig;
}

let summaryToken = 0;
async function drawSummary() {
  const box = byId('summary');
  const room = /** @type {HTMLSelectElement} */ (byId('s-room')).value;
  const my = ++summaryToken;
  box.replaceChildren();
  if (!room) {
    box.append(el('p', { cls: 'muted', i18n: 'dash.no_rooms' }));
    return;
  }
  const roomApps = await api.applications(org, { room }).catch(() => apps.filter((a) => a.room_id === room));
  if (my !== summaryToken) return;
  /** @type {Map<string, number>} */
  const per = new Map();
  for (const a of roomApps) {
    const title = a.job_title || (jobs.find((j) => j.id === a.job_id) || { title: a.job_id }).title;
    per.set(title, (per.get(title) || 0) + 1);
  }
  box.append(el('p', { i18n: 'dash.summary_total', args: { n: roomApps.length } }));
  try {
    const rep = await api.report(room);
    if (my !== summaryToken) return;
    const v = rep.viewers || {};
    const dl = el('dl', { cls: 'facts' });
    /** @param {string} key @param {number|null|undefined} n */
    const fact = (key, n) => dl.append(el('div', {}, el('dt', { i18n: key }), el('dd', { text: typeof n === 'number' ? fmtNumber(n) : '—' })));
    fact('dash.peak_viewers', v.peak);
    fact('dash.unique_viewers', v.unique_signed_in);
    fact('dash.help_requests', rep.help_requests ? rep.help_requests.seekers : undefined);
    box.append(dl);
  } catch {
    /* the report is for hosts and advisors; the charts below need only applicants */
  }
  if (per.size) box.append(barChart('dash.chart_apps', [...per.entries()].sort((a, b) => b[1] - a[1])));
  else box.append(el('p', { cls: 'muted', i18n: 'dash.chart_no_apps' }));
  // Applications over time: the running total at each application.
  const times = roomApps.map((a) => a.created_at).filter(Boolean).sort();
  if (times.length > 1) box.append(lineChart('dash.chart_over_time', times.map((at, i) => ({ at, count: i + 1 }))));
}
byId('s-room').addEventListener('change', () => void drawSummary());
onLangChange(() => void drawSummary());

// ---- org switch --------------------------------------------------------

async function loadOrg() {
  byId('org-sections').hidden = !org;
  byId('dash-nav').hidden = !org;
  if (!org) return;
  await Promise.all([loadMembers(), loadJobs(), loadRooms()]);
  await loadApps();
}

if (orgs.length) org = orgs[0].id;
paintOrgs();
await loadOrg();
markReady();
