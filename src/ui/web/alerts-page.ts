/**
 * The officer's alert screen: the queue of unanswered alerts, most urgent first, live from the unit's event stream,
 * with a beep for each new one; accept or reject (with a reason) by touch or by keyboard.
 */
import type { ScreenAlert } from './api-types.js';
import { fmtPlace, fmtTime, header } from './chrome.js';
import { h } from './dom.js';
import { api } from './session.js';

// ---- sound ----
let audio: AudioContext | null = null;
function unlockAudio(): void {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') void audio.resume();
  } catch {
    audio = null;
  }
}
function beep(priority: number): void {
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps ?? '0') + 1);
  if (!audio) unlockAudio();
  if (!audio) return;
  const times = priority <= 2 ? 3 : 1;
  for (let i = 0; i < times; i++) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'square';
    osc.frequency.value = 880;
    const t = audio.currentTime + i * 0.3;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.22);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.25);
  }
}

const REASONS: Array<{ code: string; words: string }> = [
  { code: 'NOT-MATCH', words: 'Not the listed vehicle (misread)' },
  { code: 'CLEARED', words: 'Cleared: no longer wanted' },
  { code: 'NOT-SEEN', words: 'Vehicle not located' },
  { code: 'OTHER', words: 'Other' },
];

export function alertsPage(): void {
  const queue = new Map<string, ScreenAlert>();
  let selected: string | null = null;
  let rejecting = false;
  const link = h('span', { class: 'link', id: 'link' }, 'connecting…');
  const main = h('section', { class: 'alert-main', id: 'alert-main', 'aria-live': 'assertive' });
  const list = h('ol', { class: 'queue', id: 'queue' });
  const message = h('p', { class: 'message', id: 'message', role: 'status' });
  document.body.append(
    header('/alerts'),
    h('main', { class: 'alerts' }, main, h('aside', { class: 'side' }, h('h2', {}, 'Unanswered ', h('span', { id: 'queue-count' }, '0')), list, link, message)),
  );
  document.addEventListener('pointerdown', unlockAudio, { passive: true });
  document.addEventListener('keydown', unlockAudio);

  const ordered = () => [...queue.values()].sort((a, b) => a.priority - b.priority || b.seq - a.seq);

  function render(): void {
    const items = ordered();
    if (selected === null || !queue.has(selected)) selected = items[0]?.id ?? null;
    document.getElementById('queue-count')!.textContent = String(items.length);
    list.replaceChildren(
      ...items.map((a) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: `q p${Math.min(a.priority, 3)}${a.id === selected ? ' selected' : ''}`,
              'data-alert': a.id,
              onclick: () => {
                selected = a.id;
                rejecting = false;
                render();
              },
            },
            h('span', { class: 'qplate' }, a.plate),
            h('span', { class: 'qlist' }, `${a.list} · P${a.priority}`),
            h('span', { class: 'qtime' }, new Date(a.seenAt).toLocaleTimeString(undefined, { hour12: false })),
          ),
        ),
      ),
    );
    const a = selected ? queue.get(selected) : undefined;
    if (!a) {
      main.replaceChildren(h('div', { class: 'empty' }, h('p', {}, 'No unanswered alerts.'), h('p', { class: 'hint' }, 'A hit appears here as soon as the unit stores it.')));
      return;
    }
    const stateText = a.plateState ? a.plateState : 'state not read';
    main.replaceChildren(
      h('div', { class: 'notice', role: 'alert' }, a.notice),
      h(
        'div',
        { class: 'hit' },
        h(
          'div',
          { class: 'pics' },
          a.images.crop ? h('img', { class: 'crop', id: 'crop', alt: `plate crop of ${a.plate}`, src: `/api/alerts/${encodeURIComponent(a.id)}/crop` }) : h('p', { class: 'hint' }, 'plate crop no longer stored'),
          a.images.frame ? h('img', { class: 'frame', id: 'frame', alt: 'the frame', src: `/api/alerts/${encodeURIComponent(a.id)}/frame` }) : null,
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Plate'),
          h('dd', { class: 'plate', id: 'plate' }, a.plate),
          h('dt', {}, 'State'),
          h('dd', { id: 'plate-state' }, stateText),
          h('dt', {}, 'List'),
          h('dd', { id: 'list' }, a.list),
          h('dt', {}, 'Reason'),
          h('dd', { id: 'reason' }, a.category || '—'),
          h('dt', {}, 'Priority'),
          h('dd', { class: `prio p${Math.min(a.priority, 3)}` }, String(a.priority)),
          h('dt', {}, 'Match'),
          h('dd', {}, `${a.matchKind} match of ${a.entryPlate}${a.entryState ? ` (${a.entryState})` : ''}${a.stateMismatch ? ' — STATE DIFFERS' : ''}`),
          a.caseNumber ? h('dt', {}, 'Case') : null,
          a.caseNumber ? h('dd', {}, a.caseNumber) : null,
          h('dt', {}, 'Camera'),
          h('dd', {}, a.cameraId),
          h('dt', {}, 'Seen'),
          h('dd', {}, fmtTime(a.seenAt)),
          h('dt', {}, 'Place'),
          h('dd', {}, fmtPlace(a.latitude, a.longitude, a.positionValid)),
          h('dt', {}, 'Read'),
          h('dd', {}, `${a.confidence.toFixed(0)}% confidence`),
        ),
      ),
      rejecting
        ? h(
            'div',
            { class: 'actions' },
            ...REASONS.map((r, i) => h('button', { type: 'button', class: 'big reject', 'data-reason': r.code, onclick: () => answer(a, false, r.code) }, `${i + 1}. ${r.words}`)),
            h('button', { type: 'button', class: 'big', onclick: () => ((rejecting = false), render()) }, 'Back (Esc)'),
          )
        : h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', class: 'big accept', id: 'accept', onclick: () => answer(a, true) }, 'Accept (A)'),
            h('button', { type: 'button', class: 'big reject', id: 'reject', onclick: () => ((rejecting = true), render()) }, 'Reject… (R)'),
          ),
    );
  }

  async function answer(a: ScreenAlert, accepted: boolean, reason?: string): Promise<void> {
    try {
      await api('POST', `/api/alerts/${encodeURIComponent(a.id)}/answer`, { accepted, ...(reason ? { reason } : {}) });
      queue.delete(a.id);
      rejecting = false;
      message.textContent = `${a.plate}: ${accepted ? 'accepted' : `rejected (${reason})`}, recorded`;
      render();
    } catch (err) {
      message.textContent = `not recorded: ${(err as Error).message}`;
    }
  }

  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement) return;
    const a = selected ? queue.get(selected) : undefined;
    const items = ordered();
    const at = items.findIndex((x) => x.id === selected);
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const next = items[Math.max(0, Math.min(items.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)))];
      if (next) selected = next.id;
      rejecting = false;
      render();
      e.preventDefault();
      return;
    }
    if (!a) return;
    if (!rejecting && (e.key === 'a' || e.key === 'A')) void answer(a, true);
    else if (!rejecting && (e.key === 'r' || e.key === 'R')) {
      rejecting = true;
      render();
    } else if (rejecting && e.key === 'Escape') {
      rejecting = false;
      render();
    } else if (rejecting && /^[1-9]$/.test(e.key)) {
      const r = REASONS[Number(e.key) - 1];
      if (r) void answer(a, false, r.code);
    }
  });

  // The stream reconnects by itself (EventSource) and sends Last-Event-ID: the server then says what was missed.
  const seen = new Set<string>();
  let first = true;
  const source = new EventSource('/api/alerts/stream');
  source.addEventListener('open', () => {
    link.textContent = 'connected: alerts arrive live';
    link.className = 'link ok';
  });
  source.addEventListener('error', () => {
    link.textContent = 'connection lost: reconnecting…';
    link.className = 'link bad';
    // a session that ended gets 401 and the browser stops retrying: check, and go to sign-in if so
    if (source.readyState === EventSource.CLOSED) void api('GET', '/api/session').then(() => setTimeout(() => location.reload(), 3000));
  });
  source.addEventListener('queue', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as { alerts: ScreenAlert[]; missed: string[] };
    queue.clear();
    let fresh = 0;
    for (const a of d.alerts) {
      queue.set(a.id, a);
      if (!seen.has(a.id) && (!first || d.missed.includes(a.id))) fresh++;
      seen.add(a.id);
    }
    if (fresh > 0) beep(Math.min(...d.alerts.map((a) => a.priority)));
    first = false;
    render();
  });
  source.addEventListener('alert', (e) => {
    const a = JSON.parse((e as MessageEvent<string>).data) as ScreenAlert;
    if (a.answer !== null) return;
    const isNew = !seen.has(a.id);
    seen.add(a.id);
    queue.set(a.id, a);
    if (isNew) {
      beep(a.priority);
      // the newest most urgent alert comes to the front unless the officer is answering one
      if (!rejecting) selected = null;
    }
    render();
  });
  source.addEventListener('answered', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as { id: string; accepted: boolean; by: string | null; channel: string };
    const a = queue.get(d.id);
    if (a) {
      queue.delete(d.id);
      message.textContent = `${a.plate}: ${d.accepted ? 'accepted' : 'rejected'}${d.by ? ` by ${d.by}` : ''} (${d.channel})`;
      render();
    }
  });
  source.addEventListener('ended', () => {
    source.close();
    location.assign('/login');
  });
  render();
}
