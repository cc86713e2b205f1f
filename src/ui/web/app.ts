/**
 * The unit's screens, in the browser: sign-in, the officer's alert screen, the technician's console and the data
 * user's search. Served by the unit itself (src/ui/server.ts); it fetches nothing from anywhere else. Every call
 * that changes something carries the session's CSRF token.
 */
import { alertsPage } from './alerts-page.js';
import { applyNight, nightStored, refusedPage } from './chrome.js';
import { consolePage } from './console-page.js';
import { loginPage } from './login-page.js';
import { searchPage } from './search-page.js';
import { api, setSession, type Session } from './session.js';

async function main(): Promise<void> {
  applyNight(nightStored());
  const pageName = document.body.dataset.page;
  if (pageName === 'login') {
    loginPage();
    document.body.dataset.ready = '1';
    return;
  }
  setSession(await api<Session>('GET', '/api/session'));
  if (pageName === 'alerts') alertsPage();
  else if (pageName === 'console') consolePage();
  else if (pageName === 'search') searchPage();
  else refusedPage();
  document.body.dataset.ready = '1';
}

void main();
