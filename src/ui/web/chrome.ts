/** What every screen shares: the header bar with its navigation, night mode, the refusal page, times and places. */
import { h } from './dom.js';
import { api, session } from './session.js';

export const fmtTime = (ms: number) => new Date(ms).toLocaleString(undefined, { hour12: false });
export const fmtPlace = (lat: number | null, lon: number | null, valid: boolean) =>
  lat === null || lon === null ? 'no position' : `${lat.toFixed(5)}, ${lon.toFixed(5)}${valid ? '' : ' (no valid GPS fix)'}`;

// ---- night mode ----
export function applyNight(on: boolean): void {
  document.body.classList.toggle('night', on);
  try {
    localStorage.setItem('alpr-night', on ? '1' : '0');
  } catch {
    // private mode: the choice lasts this page only
  }
}
export function nightStored(): boolean {
  try {
    return localStorage.getItem('alpr-night') === '1';
  } catch {
    return false;
  }
}

// ---- header ----
export function header(current: string): HTMLElement {
  const s = session!;
  return h(
    'header',
    { class: 'bar' },
    h('strong', { class: 'brand' }, `alpr-edge · ${s.unit}`),
    h('nav', {}, ...s.screens.map((sc) => h('a', { href: sc.path, class: sc.path === current ? 'current' : '' }, sc.title))),
    h('span', { class: 'who' }, `${s.user} (${s.role})`),
    h('button', { type: 'button', class: 'small', id: 'night', onclick: () => applyNight(!document.body.classList.contains('night')) }, 'Night'),
    h(
      'button',
      {
        type: 'button',
        class: 'small',
        id: 'signout',
        onclick: async () => {
          await api('POST', '/api/logout', {}).catch(() => undefined);
          location.assign('/login');
        },
      },
      'Sign out',
    ),
  );
}

export function refusedPage(): void {
  document.body.append(
    header(location.pathname),
    h('main', { class: 'center' }, h('div', { class: 'refused' }, h('h1', {}, 'Not allowed'), h('p', {}, `Your role (${session?.role}) may not open this screen. The attempt is recorded in the access log.`), h('a', { href: session?.home ?? '/' }, 'Back'))),
  );
}
