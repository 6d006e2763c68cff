// @ts-check
/**
 * The chat panel shared by the watch page and the studio: the message log
 * (text set with textContent only), the send form, and the per-message
 * moderator tools (delete, time-out, ban) for moderators, hosts and admins.
 */
import { api } from './api.js';
import { el, byId, showError, announce, signinURL } from './ui.js';
import { setText, setAttr, t, has } from './i18n.js';

const MAX_MESSAGES = 300;
export const STAFF_ROLES = ['moderator', 'host', 'admin'];

/**
 * @typedef {object} ChatPanel
 * @property {HTMLElement} root
 * @property {(ev: import('./protocol.js').RoomEvent) => void} add a chat event
 * @property {(seq: number) => void} remove a deleted message
 * @property {(role: string, signedIn: boolean, myID: string) => void} setRole
 * @property {(code: string, message: string) => void} error an error event
 * @property {(key: string|null, args?: Record<string,string|number>) => void} notice
 */

/**
 * Builds the chat panel into the element #chat.
 * @param {string} roomID
 * @param {import('./protocol.js').RoomChannel} channel
 * @returns {ChatPanel}
 */
export function chatPanel(roomID, channel) {
  const root = byId('chat');
  // The log role goes on a wrapper so the list keeps its list semantics.
  const log = el('ol', { cls: 'chat-list' });
  const scroller = el('div', { cls: 'chat-log', attrs: { role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' } }, log);
  setAttr(scroller, 'aria-label', 'chat.log');
  const noticeBox = el('p', { cls: 'notice', attrs: { role: 'status' } });
  const errBox = el('p', { cls: 'error', attrs: { role: 'alert' } });
  errBox.hidden = true;
  const text = el('input', { attrs: { id: 'chat-text', name: 'text', type: 'text', maxlength: '500', autocomplete: 'off', required: '' } });
  const send = el('button', { attrs: { type: 'submit' }, i18n: 'chat.send' });
  const form = el(
    'form',
    { cls: 'chat-form' },
    el('label', { cls: 'sr-only', attrs: { for: 'chat-text' }, i18n: 'chat.label' }),
    text,
    send,
  );
  setAttr(text, 'placeholder', 'chat.placeholder');
  const signin = el('p', { cls: 'chat-signin' }, el('a', { attrs: { href: signinURL() }, i18n: 'chat.signin' }));
  root.append(el('h2', { attrs: { id: 'chat-h' }, i18n: 'chat.title' }), scroller, noticeBox, errBox, form, signin);
  form.hidden = true;

  let role = 'visitor';
  let myID = '';
  /** @type {Map<number, HTMLLIElement>} */
  const bySeq = new Map();

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = text.value.trim();
    if (!v) return;
    showError(errBox, null);
    const nonce = channel.chat(v);
    if (!nonce) {
      setText(errBox, 'chat.offline');
      errBox.hidden = false;
      return;
    }
    text.value = '';
  });

  /**
   * @param {HTMLLIElement} li
   * @param {number} seq
   * @param {any} d chat data
   */
  function modTools(li, seq, d) {
    if (!STAFF_ROLES.includes(role) || !d.user_id || d.user_id === myID) return;
    if (STAFF_ROLES.includes(d.role)) return;
    const name = d.name || '';
    const del = el('button', { cls: 'small', attrs: { type: 'button', 'data-action': 'delete' }, i18n: 'mod.delete' });
    setAttr(del, 'aria-label', 'mod.delete_from', { name });
    del.addEventListener('click', async () => {
      try {
        await api.deleteMessage(roomID, seq);
        announce('mod.deleted');
      } catch (err) {
        showError(errBox, err);
      }
    });
    const mute = el('button', { cls: 'small', attrs: { type: 'button', 'data-action': 'mute' }, i18n: 'mod.timeout' });
    setAttr(mute, 'aria-label', 'mod.timeout_user', { name });
    mute.addEventListener('click', async () => {
      try {
        await api.mute(roomID, d.user_id, 300, t('mod.default_reason'));
        announce('mod.muted', { name });
      } catch (err) {
        showError(errBox, err);
      }
    });
    const ban = el('button', { cls: 'small danger', attrs: { type: 'button', 'data-action': 'ban' }, i18n: 'mod.ban' });
    setAttr(ban, 'aria-label', 'mod.ban_user', { name });
    ban.addEventListener('click', async () => {
      // Two steps instead of window.confirm: first press asks, second acts.
      if (ban.dataset.armed !== '1') {
        ban.dataset.armed = '1';
        setText(ban, 'mod.ban_confirm');
        setAttr(ban, 'aria-label', 'mod.ban_confirm_user', { name });
        return;
      }
      try {
        await api.ban(roomID, d.user_id, t('mod.default_reason'));
        announce('mod.banned', { name });
      } catch (err) {
        showError(errBox, err);
      }
    });
    li.append(el('span', { cls: 'mod-tools' }, del, mute, ban));
  }

  /** @type {ChatPanel} */
  const panel = {
    root,
    add(ev) {
      const d = ev.data || {};
      const seq = Number(ev.seq || 0);
      // The protocol drops duplicates; a seq seen again is a new epoch.
      if (seq && bySeq.has(seq)) bySeq.get(seq)?.remove();
      const li = el('li', { cls: 'msg', attrs: { 'data-seq': String(seq) } });
      li.append(el('span', { cls: 'who', text: d.name || '' }));
      if (d.role && d.role !== 'seeker' && d.role !== 'visitor') li.append(el('span', { cls: 'role-badge', i18n: 'role.' + d.role }));
      li.append(el('span', { cls: 'text', text: d.text || '' }));
      if (d.user_id && d.user_id === myID) li.classList.add('mine');
      modTools(li, seq, d);
      const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
      log.append(li);
      if (seq) bySeq.set(seq, li);
      while (log.children.length > MAX_MESSAGES) {
        const first = /** @type {HTMLLIElement} */ (log.firstElementChild);
        bySeq.delete(Number(first.dataset.seq));
        first.remove();
      }
      if (atBottom) scroller.scrollTop = scroller.scrollHeight;
    },
    remove(seq) {
      const li = bySeq.get(seq);
      if (!li) return;
      bySeq.delete(seq);
      li.remove();
    },
    setRole(r, signedIn, id) {
      role = r || 'visitor';
      myID = id || '';
      form.hidden = !signedIn;
      signin.hidden = signedIn;
      root.classList.toggle('is-staff', STAFF_ROLES.includes(role));
    },
    error(code, message) {
      const key = 'error.' + code;
      if (has(key)) setText(errBox, key, { seconds: 1 });
      else setText(errBox, 'error.generic', { message });
      errBox.hidden = false;
    },
    notice(key, args) {
      if (!key) {
        noticeBox.textContent = '';
        delete noticeBox.dataset.i18n;
        return;
      }
      setText(noticeBox, key, args);
    },
  };
  return panel;
}
