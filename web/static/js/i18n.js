// @ts-check
/**
 * Translations (English and zh-CN) and their application to the DOM.
 *
 * The language comes from localStorage (the user's choice), else from
 * navigator.languages. Static markup names its strings with data-i18n="key"
 * (text) and data-i18n-attr="attr:key;attr2:key2" (attributes); UI code sets
 * strings with setText(el, key, args), which records the key so a language
 * switch re-translates the whole page in place without a reload.
 */
import { en } from './strings/en.js';
import { zh } from './strings/zh.js';

const LANG_KEY = 'jobcast.lang';

/** @typedef {'en'|'zh-CN'} Lang */

/** @type {Record<Lang, Record<string,string>>} */
const dicts = { en, 'zh-CN': zh };

/** Keys looked up but missing (read by the browser tests). @type {string[]} */
const missing = [];
/** @type {any} */ (window).__i18nMissing = missing;

/** @returns {Lang} */
function initial() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch {
    /* storage disabled */
  }
  for (const l of navigator.languages || [navigator.language]) {
    if (/^zh\b/i.test(l)) return 'zh-CN';
    if (/^en\b/i.test(l)) return 'en';
  }
  return 'en';
}

/** @type {Lang} */
let current = initial();

/** @type {Set<() => void>} */
const listeners = new Set();

/**
 * @param {string} key
 * @returns {boolean} whether key has a translation
 */
export function has(key) {
  return key in dicts.en;
}

/** @returns {Lang} */
export function lang() {
  return current;
}

/**
 * Translates key, replacing {name} with args.name.
 * @param {string} key
 * @param {Record<string, string|number>} [args]
 * @returns {string}
 */
export function t(key, args) {
  let s = dicts[current][key];
  if (s === undefined) {
    if (!missing.includes(current + ':' + key)) missing.push(current + ':' + key);
    s = dicts.en[key] ?? key;
  }
  if (args) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in args ? String(args[k]) : m));
  return s;
}

/**
 * Sets el's text to the translation of key and remembers it for switches.
 * @template {HTMLElement} E
 * @param {E} el
 * @param {string} key
 * @param {Record<string, string|number>} [args]
 * @returns {E}
 */
export function setText(el, key, args) {
  el.dataset.i18n = key;
  if (args) el.dataset.i18nArgs = JSON.stringify(args);
  else delete el.dataset.i18nArgs;
  el.textContent = t(key, args);
  return el;
}

/**
 * Sets a translated attribute and remembers it.
 * @param {HTMLElement} el
 * @param {string} attr
 * @param {string} key
 * @param {Record<string, string|number>} [args]
 */
export function setAttr(el, attr, key, args) {
  const spec = (el.dataset.i18nAttr || '').split(';').filter((p) => p && !p.startsWith(attr + ':'));
  spec.push(attr + ':' + key + (args ? ':' + JSON.stringify(args) : ''));
  el.dataset.i18nAttr = spec.join(';');
  el.setAttribute(attr, t(key, args));
}

/**
 * Applies translations to root and everything below it.
 * @param {ParentNode} [root]
 */
export function translate(root = document) {
  /** @type {HTMLElement[]} */
  const els = /** @type {HTMLElement[]} */ ([...root.querySelectorAll('[data-i18n],[data-i18n-attr]')]);
  if (root instanceof HTMLElement && (root.dataset.i18n || root.dataset.i18nAttr)) els.push(root);
  for (const el of els) {
    if (el.dataset.i18n) {
      const args = el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : undefined;
      el.textContent = t(el.dataset.i18n, args);
    }
    if (el.dataset.i18nAttr) {
      for (const part of el.dataset.i18nAttr.split(';')) {
        const i = part.indexOf(':');
        if (i < 0) continue;
        const attr = part.slice(0, i);
        const rest = part.slice(i + 1);
        const j = rest.indexOf(':');
        const key = j < 0 ? rest : rest.slice(0, j);
        const args = j < 0 ? undefined : JSON.parse(rest.slice(j + 1));
        el.setAttribute(attr, t(key, args));
      }
    }
  }
  document.documentElement.lang = current;
  const title = document.querySelector('title');
  if (title && title.dataset.i18n) document.title = t(title.dataset.i18n) + ' · ' + t('app.name');
}

/**
 * Switches the language, remembers it and re-translates the page.
 * @param {Lang} l
 */
export function setLang(l) {
  current = l;
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    /* not remembered */
  }
  translate();
  for (const fn of listeners) fn();
}

/**
 * Calls fn after every language switch (for locale-formatted values).
 * @param {() => void} fn
 */
export function onLangChange(fn) {
  listeners.add(fn);
}

/** @returns {string} the BCP 47 tag for Intl formatting */
export function locale() {
  return current === 'zh-CN' ? 'zh-CN' : 'en-GB';
}

/**
 * @param {number} n
 * @returns {string}
 */
export function fmtNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

/**
 * @param {string|undefined} iso RFC 3339 time
 * @returns {string} local date and time, or ""
 */
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/**
 * @param {{salary_min:number,salary_max:number,salary_period:string}} j
 * @returns {string} e.g. "¥6,000–8,000 / month"
 */
export function fmtSalary(j) {
  const period = t('salary.per.' + (j.salary_period || 'month'));
  const cur = (/** @type {number} */ n) =>
    new Intl.NumberFormat(locale(), { style: 'currency', currency: 'CNY', maximumFractionDigits: 0 }).format(n);
  if (!j.salary_min && !j.salary_max) return t('salary.negotiable');
  if (j.salary_min && j.salary_max && j.salary_min !== j.salary_max)
    return t('salary.range', { min: cur(j.salary_min), max: fmtNumber(j.salary_max), period });
  return t('salary.single', { amount: cur(j.salary_max || j.salary_min), period });
}
