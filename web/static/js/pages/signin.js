// @ts-check
/** Sign in and register (/signin). */
import { api } from '../api.js';
import { byId, initPage, nextURL, showError, markReady } from '../ui.js';

const me = await initPage('signin');
if (me) location.replace(nextURL());

/** @param {string} id */
const val = (id) => /** @type {HTMLInputElement} */ (byId(id)).value;

byId('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = byId('si-error');
  showError(err, null);
  try {
    await api.login(val('si-email').trim(), val('si-password'));
    location.href = nextURL();
  } catch (x) {
    showError(err, x);
    byId('si-email').focus();
  }
});

byId('register-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = byId('rg-error');
  showError(err, null);
  try {
    await api.register(val('rg-email').trim(), val('rg-password'), val('rg-name').trim());
    location.href = nextURL();
  } catch (x) {
    showError(err, x);
  }
});
markReady();
