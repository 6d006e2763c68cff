// @ts-check
/** My applications (/me/applications): status of each application. */
import { api } from '../api.js';
import { el, byId, initPage, showError, signinURL, markReady } from '../ui.js';
import { setText, fmtTime, onLangChange } from '../i18n.js';

const me = await initPage('applications');
if (!me) location.replace(signinURL());

const st = byId('apps-status');
/** @type {import('../api.js').Application[]} */
let apps = [];

function paint() {
  const ul = byId('apps');
  ul.replaceChildren();
  if (!apps.length) ul.append(el('li', { cls: 'muted', i18n: 'apps.none' }));
  for (const a of apps) {
    const li = el('li', { cls: 'app-item' });
    li.append(
      el('h2', { cls: 'job-title', text: a.job_title || '' }),
      el(
        'p',
        {},
        el('span', { cls: 'status-pill app-' + a.status, i18n: 'appstatus.' + a.status }),
        document.createTextNode(' '),
        el('span', { i18n: 'apps.applied_at', args: { time: fmtTime(a.created_at) } }),
      ),
    );
    if (a.room_id) li.append(el('p', {}, el('a', { attrs: { href: '/rooms/' + encodeURIComponent(a.room_id) }, i18n: 'apps.room_link' })));
    ul.append(li);
  }
}
onLangChange(paint);

if (me) {
  setText(st, 'common.loading');
  try {
    apps = await api.myApplications();
    st.textContent = '';
    delete st.dataset.i18n;
  } catch (e) {
    showError(st, e);
    st.hidden = false;
  }
  paint();
}
markReady();
