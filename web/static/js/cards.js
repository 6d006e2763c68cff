// @ts-check
/** Job cards: the pinned card, shelf items and dashboard rows share this. */
import { el } from './ui.js';
import { setText, fmtSalary, fmtNumber, onLangChange } from './i18n.js';

const KNOWN_TAGS = ['accessible', 'graduate', 'no_experience', 'remote'];

/**
 * The tag list of a job; known tags are translated, `accessible` is a badge.
 * @param {string[]} tags
 * @param {boolean} [accessible]
 * @returns {HTMLUListElement}
 */
export function tagList(tags, accessible) {
  const ul = el('ul', { cls: 'tags' });
  const all = [...(tags || [])];
  if (accessible && !all.includes('accessible')) all.unshift('accessible');
  for (const tag of all) {
    if (tag === 'accessible') {
      const li = el('li', { cls: 'badge badge-accessible' });
      li.append(el('span', { attrs: { 'aria-hidden': 'true' }, text: '♿ ' }), el('span', { i18n: 'tag.accessible' }));
      ul.append(li);
    } else if (KNOWN_TAGS.includes(tag)) {
      ul.append(el('li', { cls: 'badge', i18n: 'tag.' + tag }));
    } else {
      ul.append(el('li', { cls: 'badge', text: tag }));
    }
  }
  return ul;
}

/**
 * @typedef {object} CardView
 * @property {HTMLElement} root
 * @property {(n: number) => void} setApplicants
 * @property {HTMLButtonElement|null} apply
 * @property {HTMLElement} receipt status line under the button
 */

/**
 * Renders a job card.
 * @param {import('./api.js').JobCard} card
 * @param {{headingLevel?: 2|3|4, applyLabel?: string, big?: boolean, idPrefix?: string}} [o]
 * @returns {CardView}
 */
export function jobCard(card, o = {}) {
  const hid = (o.idPrefix || 'job') + '-' + card.job_id;
  const h = el(/** @type {'h2'|'h3'|'h4'} */ ('h' + (o.headingLevel || 3)), { cls: 'job-title', attrs: { id: hid }, text: card.title });
  const root = el('article', { cls: 'job-card' + (o.big ? ' job-card-big' : ''), attrs: { 'aria-labelledby': hid } });
  const salary = el('dd', { text: fmtSalary(card) });
  const applicants = el('dd', { text: fmtNumber(card.applicants || 0) });
  onLangChange(() => {
    salary.textContent = fmtSalary(card);
    applicants.textContent = fmtNumber(Number(applicants.dataset.n || card.applicants || 0));
  });
  const dl = el(
    'dl',
    { cls: 'facts' },
    el('div', {}, el('dt', { i18n: 'job.salary' }), salary),
    el('div', {}, el('dt', { i18n: 'job.city' }), el('dd', { text: card.city || '—' })),
    el('div', {}, el('dt', { i18n: 'job.openings' }), el('dd', { text: card.openings ? fmtNumber(card.openings) : '—' })),
    el('div', {}, el('dt', { i18n: 'job.applicants' }), applicants),
  );
  root.append(h);
  if (card.org_name) root.append(el('p', { cls: 'org', text: card.org_name }));
  root.append(dl, tagList(card.tags, card.accessible));
  /** @type {HTMLButtonElement|null} */
  let apply = null;
  if (o.applyLabel) {
    apply = el('button', { cls: 'apply' + (o.big ? ' big' : ''), attrs: { type: 'button', 'aria-describedby': hid } });
    setText(apply, o.applyLabel);
    if (card.status === 'closed') {
      apply.disabled = true;
      setText(apply, 'job.closed');
    }
    root.append(apply);
  }
  const receipt = el('p', { cls: 'receipt', attrs: { role: 'status' } });
  root.append(receipt);
  return {
    root,
    apply,
    receipt,
    setApplicants: (n) => {
      applicants.dataset.n = String(n);
      applicants.textContent = fmtNumber(n);
    },
  };
}

/**
 * Marks a card's button and receipt as applied.
 * @param {CardView} v
 */
export function markApplied(v) {
  if (v.apply) {
    setText(v.apply, 'apply.done');
    v.apply.disabled = true;
    v.apply.classList.add('applied');
  }
  v.receipt.replaceChildren(
    el('span', { i18n: 'apply.receipt' }),
    document.createTextNode(' '),
    el('a', { attrs: { href: '/me/applications' }, i18n: 'apply.see_mine' }),
  );
}

