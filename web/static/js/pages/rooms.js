// @ts-check
/** Room list (/): live and upcoming rooms with host and number of jobs. */
import { api } from '../api.js';
import { el, byId, initPage, showError, markReady } from '../ui.js';
import { setText, fmtTime, onLangChange } from '../i18n.js';

await initPage('rooms');

const only = /** @type {HTMLInputElement} */ (byId('only-accessible'));
const status = byId('rooms-status');

/** @typedef {{room: import('../api.js').Room, jobs: number, accessible: number}} Item */

/** @type {{live: Item[], scheduled: Item[]}} */
const data = { live: [], scheduled: [] };

/**
 * @param {import('../api.js').Room} room
 * @returns {Promise<Item>}
 */
async function detail(room) {
  try {
    const s = await api.room(room.id);
    return { room: { ...room, org_name: room.org_name || s.room.org_name }, jobs: s.shelf.length, accessible: s.shelf.filter((c) => c.accessible).length };
  } catch {
    return { room, jobs: typeof room.jobs === 'number' ? room.jobs : 0, accessible: 0 };
  }
}

/**
 * @param {HTMLElement} ul
 * @param {Item[]} items
 * @param {string} emptyKey
 */
function render(ul, items, emptyKey) {
  ul.replaceChildren();
  const shown = only.checked ? items.filter((i) => i.accessible > 0) : items;
  if (!shown.length) ul.append(el('li', { cls: 'muted', i18n: only.checked ? 'rooms.none_accessible' : emptyKey }));
  for (const { room, jobs, accessible } of shown) {
    const id = 'room-' + room.id;
    const li = el('li', { cls: 'room-item' });
    const h = el('h3', { attrs: { id } }, el('a', { attrs: { href: '/rooms/' + encodeURIComponent(room.id) }, text: room.title }));
    const meta = el('p', { cls: 'room-meta' });
    if (room.org_name) meta.append(el('span', { cls: 'host', text: room.org_name }), document.createTextNode(' · '));
    if (room.status === 'live') meta.append(el('span', { cls: 'status-pill status-live', i18n: 'status.live' }));
    else meta.append(el('time', { attrs: { datetime: room.starts_at }, text: fmtTime(room.starts_at) }));
    meta.append(document.createTextNode(' · '), el('span', { i18n: 'rooms.jobs_n', args: { n: jobs } }));
    li.append(h, meta);
    if (accessible) {
      const b = el('p', { cls: 'badge badge-accessible' });
      b.append(el('span', { attrs: { 'aria-hidden': 'true' }, text: '♿ ' }), el('span', { i18n: 'rooms.accessible_n', args: { n: accessible } }));
      li.append(b);
    }
    if (room.description) li.append(el('p', { cls: 'desc', text: room.description }));
    ul.append(li);
  }
}

function paint() {
  render(byId('live-rooms'), data.live, 'rooms.none_live');
  render(byId('upcoming-rooms'), data.scheduled, 'rooms.none_upcoming');
}

only.addEventListener('change', paint);
onLangChange(paint);

setText(status, 'common.loading');
try {
  const [live, scheduled] = await Promise.all([api.rooms('live'), api.rooms('scheduled')]);
  data.live = await Promise.all(live.slice(0, 50).map(detail));
  data.scheduled = await Promise.all(scheduled.slice(0, 50).map(detail));
  status.textContent = '';
  delete status.dataset.i18n;
} catch (e) {
  showError(status, e);
  status.hidden = false;
}
paint();
markReady();
