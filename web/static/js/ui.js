// @ts-check
/**
 * Shared UI helpers: element building (text only, never HTML), the site
 * header with navigation and language switch, screen-reader announcements,
 * and the translation of API errors.
 */
import { api, ApiError } from './api.js';
import { t, has, setText, setAttr, translate, lang, setLang } from './i18n.js';

/**
 * @typedef {object} ElOpts
 * @property {string} [cls] class names
 * @property {string} [text] literal text (user data goes here; set with textContent)
 * @property {string} [i18n] translation key for the text
 * @property {Record<string,string|number>} [args] translation arguments
 * @property {Record<string,string>} [attrs] attributes
 * @property {Record<string,string>} [i18nAttrs] translated attributes: attr → key
 * @property {(e: Event) => void} [onclick]
 */

/**
 * Builds an element. Text is always set with textContent.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElOpts} [o]
 * @param {...(Node|null|undefined|false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, o = {}, ...children) {
  const e = document.createElement(tag);
  if (o.cls) e.className = o.cls;
  if (o.attrs) for (const [k, v] of Object.entries(o.attrs)) e.setAttribute(k, v);
  if (o.i18nAttrs) for (const [k, v] of Object.entries(o.i18nAttrs)) setAttr(e, k, v);
  if (o.i18n) setText(e, o.i18n, o.args);
  else if (o.text !== undefined) e.textContent = o.text;
  if (o.onclick) e.addEventListener('click', o.onclick);
  for (const c of children) if (c) e.append(c);
  return e;
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error('missing #' + id);
  return e;
}

/**
 * Announces msg to screen readers through the page's polite live region.
 * @param {string} key translation key
 * @param {Record<string,string|number>} [args]
 */
export function announce(key, args) {
  const r = document.getElementById('announcer');
  if (!r) return;
  r.textContent = '';
  // A fresh text node after a tick makes screen readers speak repeats too.
  setTimeout(() => setText(r, key, args), 50);
}

/**
 * Returns the translated text for an error from the API.
 * @param {unknown} e
 * @returns {{key: string, args?: Record<string,string|number>}}
 */
export function errorKey(e) {
  if (e instanceof ApiError) {
    const known = 'error.' + e.code;
    if (has(known)) return { key: known, args: { seconds: e.retryAfter || 1 } };
    if (e.status === 0) return { key: 'error.network' };
    if (e.status === 401) return { key: 'error.unauthenticated' };
    if (e.status === 403) return { key: 'error.forbidden' };
    if (e.status === 404) return { key: 'error.not_found' };
    if (e.status === 429) return { key: 'error.rate_limited', args: { seconds: e.retryAfter || 1 } };
    return { key: 'error.generic', args: { message: e.message } };
  }
  return { key: 'error.generic', args: { message: e instanceof Error ? e.message : String(e) } };
}

/**
 * Shows an error (or clears it with null) in a status element.
 * @param {HTMLElement} box an element with role=alert or aria-live
 * @param {unknown} e
 */
export function showError(box, e) {
  if (e == null) {
    box.textContent = '';
    delete box.dataset.i18n;
    box.hidden = true;
    return;
  }
  const { key, args } = errorKey(e);
  setText(box, key, args);
  box.hidden = false;
}

/**
 * The "next" URL after signing in: a same-origin path only.
 * @returns {string}
 */
export function nextURL() {
  const n = new URLSearchParams(location.search).get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

/** @returns {string} /signin?next=<this page> */
export function signinURL() {
  return '/signin?next=' + encodeURIComponent(location.pathname + location.search);
}

/**
 * Returns the last path segment of the page URL (a room id).
 * @returns {string}
 */
export function pathID() {
  const parts = location.pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || '');
}

/**
 * Builds the site header (brand, navigation, sign-in state, language
 * switch) into #site-header, translates the page and returns who is signed
 * in (null for visitors).
 * @param {string} active nav item to mark current: rooms|applications|profile|dashboard|signin
 * @returns {Promise<import('./api.js').Me|null>}
 */
export async function initPage(active) {
  translate();
  const header = byId('site-header');
  /** @type {import('./api.js').Me|null} */
  let me = null;
  try {
    me = await api.me();
  } catch {
    me = null;
  }
  header.replaceChildren();
  const brand = el('a', { cls: 'brand', attrs: { href: '/' }, i18n: 'app.name' });
  const nav = el('nav', { i18nAttrs: { 'aria-label': 'nav.label' } });
  const ul = el('ul');
  /** @param {string} href @param {string} key @param {string} id */
  const item = (href, key, id) => {
    const a = el('a', { attrs: { href }, i18n: key });
    if (id === active) a.setAttribute('aria-current', 'page');
    ul.append(el('li', {}, a));
  };
  item('/', 'nav.rooms', 'rooms');
  if (me) {
    item('/me/applications', 'nav.applications', 'applications');
    item('/profile', 'nav.profile', 'profile');
    item('/dashboard', 'nav.dashboard', 'dashboard');
    const out = el('button', {
      cls: 'linklike',
      attrs: { type: 'button' },
      i18n: 'nav.signout',
      onclick: async () => {
        await api.logout().catch(() => undefined);
        location.href = '/';
      },
    });
    ul.append(el('li', {}, out));
  } else {
    item(signinURL(), 'nav.signin', 'signin');
  }
  nav.append(ul);
  const sw = el('button', { cls: 'lang-switch', attrs: { type: 'button' } });
  const paintSwitch = () => {
    // The button names the other language in that language.
    const other = lang() === 'en' ? 'zh-CN' : 'en';
    sw.textContent = other === 'en' ? 'English' : '中文';
    sw.setAttribute('lang', other);
    sw.setAttribute('aria-label', other === 'en' ? 'Switch to English' : '切换到中文');
  };
  paintSwitch();
  sw.addEventListener('click', () => {
    setLang(lang() === 'en' ? 'zh-CN' : 'en');
    paintSwitch();
    announce('lang.switched');
  });
  header.append(brand, nav, sw);
  if (me) {
    const who = el('span', { cls: 'who', text: me.profile.full_name || me.user.name || '' });
    who.setAttribute('aria-label', t('nav.signed_in_as', { name: who.textContent || '' }));
    setAttr(who, 'aria-label', 'nav.signed_in_as', { name: who.textContent || '' });
    header.insertBefore(who, sw);
  }
  return me;
}

/**
 * A random idempotency key.
 * @returns {string}
 */
export function randomKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * A labelled form field.
 * @param {string} id
 * @param {string} labelKey
 * @param {HTMLInputElement|HTMLSelectElement|HTMLTextAreaElement} input
 * @param {string} [hintKey]
 * @returns {HTMLDivElement}
 */
export function field(id, labelKey, input, hintKey) {
  input.id = id;
  const wrap = el('div', { cls: 'field' }, el('label', { attrs: { for: id }, i18n: labelKey }), input);
  if (hintKey) {
    const hint = el('p', { cls: 'hint', attrs: { id: id + '-hint' }, i18n: hintKey });
    input.setAttribute('aria-describedby', id + '-hint');
    wrap.append(hint);
  }
  return wrap;
}

/**
 * @param {string} name
 * @param {string} type
 * @param {Record<string,string>} [attrs]
 * @returns {HTMLInputElement}
 */
export function input(name, type = 'text', attrs = {}) {
  return el('input', { attrs: { name, type, ...attrs } });
}

/**
 * A select whose option labels are translation keys.
 * @param {string} name
 * @param {[string,string][]} options value → label key
 * @returns {HTMLSelectElement}
 */
export function select(name, options) {
  const s = el('select', { attrs: { name } });
  for (const [v, k] of options) s.append(el('option', { attrs: { value: v }, i18n: k }));
  return s;
}

/**
 * Copies text to the clipboard, falling back to selecting it.
 * @param {string} text
 * @param {HTMLInputElement} [fallback]
 * @returns {Promise<boolean>}
 */
export async function copy(text, fallback) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallback) {
      fallback.focus();
      fallback.select();
    }
    return false;
  }
}

/**
 * Marks the page as fully rendered (data-ready on body), for tests and
 * for styling that waits on data.
 */
export function markReady() {
  document.body.dataset.ready = '1';
}
