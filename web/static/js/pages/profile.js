// @ts-check
/** The seeker's profile (/profile). */
import { api } from '../api.js';
import { byId, initPage, showError, signinURL, announce, markReady } from '../ui.js';
import { setText } from '../i18n.js';

const me = await initPage('profile');
if (!me) location.replace(signinURL());

/** @param {string} id */
const f = (id) => /** @type {HTMLInputElement} */ (byId(id));

if (me) {
  const p = me.profile;
  f('p-name').value = p.full_name || me.user.name || '';
  f('p-phone').value = p.phone;
  f('p-city').value = p.city;
  f('p-skills').value = (p.skills || []).join(', ');
  f('p-summary').value = p.summary;
  f('p-needs').value = p.accessibility_needs;
}

byId('profile-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const st = byId('p-status');
  try {
    await api.saveProfile({
      full_name: f('p-name').value.trim(),
      phone: f('p-phone').value.trim(),
      city: f('p-city').value.trim(),
      skills: f('p-skills').value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean),
      summary: f('p-summary').value.trim(),
      accessibility_needs: f('p-needs').value.trim(),
    });
    setText(st, 'profile.saved');
    st.hidden = false;
    announce('profile.saved');
  } catch (x) {
    showError(st, x);
  }
});
markReady();
