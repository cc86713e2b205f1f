/**
 * The unit's screens, in the browser: sign-in, the officer's alert screen, the technician's console and the data
 * user's search. Served by the unit itself (src/ui/server.ts); it fetches nothing from anywhere else. Every call
 * that changes something carries the session's CSRF token.
 */

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Array<Node | string | null | undefined | false>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

interface Session {
  user: string;
  agency: string;
  role: string;
  unit: string;
  csrf: string;
  permissions: string[];
  home: string;
  screens: Array<{ path: string; title: string }>;
}

let session: Session | null = null;

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrf;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const data = (await res.json().catch(() => ({}))) as { error?: string };
  if (res.status === 401 && !url.startsWith('/api/login')) {
    location.assign('/login');
    throw new ApiError(401, data.error ?? 'not signed in');
  }
  if (!res.ok) throw new ApiError(res.status, data.error ?? `${res.status} ${res.statusText}`);
  return data as T;
}

const fmtTime = (ms: number) => new Date(ms).toLocaleString(undefined, { hour12: false });
const fmtPlace = (lat: number | null, lon: number | null, valid: boolean) =>
  lat === null || lon === null ? 'no position' : `${lat.toFixed(5)}, ${lon.toFixed(5)}${valid ? '' : ' (no valid GPS fix)'}`;

// ---- night mode ----
function applyNight(on: boolean): void {
  document.body.classList.toggle('night', on);
  try {
    localStorage.setItem('alpr-night', on ? '1' : '0');
  } catch {
    // private mode: the choice lasts this page only
  }
}
function nightStored(): boolean {
  try {
    return localStorage.getItem('alpr-night') === '1';
  } catch {
    return false;
  }
}

// ---- header ----
function header(current: string): HTMLElement {
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

// ---- sign-in ----
function loginPage(): void {
  const error = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const name = h('input', { id: 'name', name: 'name', autocomplete: 'username', required: true, autocapitalize: 'off' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const code = h('input', { id: 'code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 8, placeholder: 'if your role needs one' });
  const button = h('button', { type: 'submit', class: 'big' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        error.textContent = '';
        button.disabled = true;
        try {
          const r = await api<{ home: string }>('POST', '/api/login', { name: name.value, password: password.value, ...(code.value ? { code: code.value } : {}) });
          location.assign(r.home);
        } catch (err) {
          error.textContent = (err as Error).message;
          password.value = '';
          code.value = '';
          button.disabled = false;
        }
      },
    },
    h('h1', {}, 'alpr-edge'),
    h('label', { for: 'name' }, 'User name'),
    name,
    h('label', { for: 'password' }, 'Password'),
    password,
    h('label', { for: 'code' }, 'One-time code'),
    code,
    button,
    error,
    h('p', { class: 'hint' }, 'Every sign-in, and every look at stored data, is recorded in the access log.'),
  );
  document.body.append(h('main', { class: 'center' }, form));
  name.focus();
}

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

// ---- the officer's alerts ----
interface ScreenAlert {
  id: string;
  seq: number;
  raisedAt: number;
  seenAt: number;
  plate: string;
  plateState: string | null;
  confidence: number;
  cameraId: string;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  list: string;
  category: string;
  priority: number;
  matchKind: string;
  entryPlate: string;
  entryState: string | null;
  stateMismatch: boolean;
  caseNumber: string | null;
  notice: string;
  images: { crop: boolean; frame: boolean };
  answer: { at: number; accepted: boolean; reason: string | null; by: string | null; channel: string | null } | null;
}

const REASONS: Array<{ code: string; words: string }> = [
  { code: 'NOT-MATCH', words: 'Not the listed vehicle (misread)' },
  { code: 'CLEARED', words: 'Cleared: no longer wanted' },
  { code: 'NOT-SEEN', words: 'Vehicle not located' },
  { code: 'OTHER', words: 'Other' },
];

function alertsPage(): void {
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

// ---- the technician's console ----
interface CameraHealth {
  id: string;
  name: string;
  type: string;
  connected: boolean;
  finished: boolean;
  lastFrameAt: number | null;
  lastError: string | null;
  detail: string;
  fps: { in: number; processed: number; dropped: number };
  counters: { offered: number; processed: number; dropped: number; failed: number };
}
interface UnitStatus {
  unitId: string;
  state: string;
  startedAt: number;
  updatedAt: number;
  cameras: CameraHealth[];
  recognition: { ocrWorkers: number; framesWaiting: number; framesInRecognition: number; workerAlive: boolean; lastError: string | null; latencyMs: { p50: number | null; p99: number | null } };
  hotlists: { lists: number; entries: number };
  alerts: { raised: number; suppressed: number; unacknowledged: number; pending: Record<string, number>; channels: Array<{ name: string; connected: boolean; lastError: string | null }> };
  reads: { stored: number; pendingSync: number; lastReadAt: number | null };
  gps: { source: string; connected: boolean; lastFix: { valid: boolean; latitude: number; longitude: number; time: number; satellites?: number } | null; lastError: string | null };
  store: { databaseBytes: number; imageBytes: number; imageBudgetBytes: number; frameImages: number; evictedFrames: number; encrypted?: boolean };
  disk: { freeBytes: number; totalBytes: number } | null;
  sync: { server: string; lastSuccessAt: number | null; consecutiveFailures: number; lastError: { message: string } | null; backlog: Record<string, number> } | null;
  faults: Array<{ code: string; subject?: string; message: string; since: number }>;
}

function fmtBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
const ago = (now: number, t: number | null) => (t === null ? 'never' : `${Math.max(0, Math.round((now - t) / 1000))} s ago`);

function consolePage(): void {
  const statusBox = h('section', { class: 'status', id: 'status' }, 'loading…');
  const cams = h('section', { class: 'cams', id: 'cams' });
  const text = h('textarea', { id: 'config-text', spellcheck: 'false', rows: 14, placeholder: 'paste a configuration (YAML) here' });
  const problems = h('ol', { class: 'problems', id: 'problems' });
  const gutter = h('pre', { class: 'gutter', id: 'gutter', 'aria-hidden': 'true' });
  const check = h(
    'button',
    {
      type: 'button',
      id: 'check',
      class: 'big',
      onclick: async () => {
        problems.replaceChildren();
        try {
          const r = await api<{ ok: boolean; problems: Array<{ line?: number; column?: number; key: string; message: string; value?: unknown }> }>('POST', '/api/config/check', { text: text.value });
          const lines = text.value.split('\n').length;
          const bad = new Map<number, string>();
          for (const p of r.problems) if (p.line !== undefined) bad.set(p.line, p.message);
          gutter.replaceChildren(...Array.from({ length: lines }, (_, i) => h('span', { class: bad.has(i + 1) ? 'bad' : '' }, `${i + 1}\n`)));
          if (r.ok) problems.append(h('li', { class: 'ok' }, 'the configuration is valid'));
          for (const p of r.problems) {
            problems.append(
              h('li', { class: 'bad' }, `${p.line !== undefined ? `line ${p.line}${p.column ? `:${p.column}` : ''}` : '(no line)'} — ${p.key || '(top level)'}: ${p.message}${p.value !== undefined ? ` (value: ${JSON.stringify(p.value)})` : ''}`),
            );
          }
        } catch (err) {
          problems.append(h('li', { class: 'bad' }, (err as Error).message));
        }
      },
    },
    'Check',
  );
  document.body.append(
    header('/console'),
    h('main', { class: 'console' }, statusBox, cams, h('section', { class: 'check' }, h('h2', {}, 'config check'), h('div', { class: 'editor' }, gutter, text), check, problems)),
  );
  const views = new Map<string, { img: HTMLImageElement; boxes: HTMLElement; caption: HTMLElement }>();

  async function refresh(): Promise<void> {
    let s: UnitStatus;
    try {
      s = await api<UnitStatus>('GET', '/api/status');
    } catch (err) {
      statusBox.textContent = `cannot read the status: ${(err as Error).message}`;
      return;
    }
    const now = s.updatedAt;
    const r = s.recognition;
    const fix = s.gps.lastFix;
    const rows: Array<[string, string, boolean]> = [
      ['unit', `${s.unitId}: ${s.state}, up ${Math.round((now - s.startedAt) / 1000)} s`, s.state === 'running'],
      ['recognition', `${r.ocrWorkers} OCR worker(s), ${r.framesInRecognition} in recognition, ${r.framesWaiting} waiting; capture to read p50 ${r.latencyMs.p50 ?? '-'} ms, p99 ${r.latencyMs.p99 ?? '-'} ms${r.workerAlive ? '' : '; WORKER NOT RUNNING'}${r.lastError ? `; ${r.lastError}` : ''}`, r.workerAlive],
      ['gps', `${s.gps.source}${fix ? `, fix ${fix.valid ? 'valid' : 'INVALID'} ${fix.latitude.toFixed(5)},${fix.longitude.toFixed(5)} ${ago(now, fix.time)}${fix.satellites !== undefined ? `, ${fix.satellites} satellites` : ''}` : ', no fix'}`, !!fix?.valid],
      ['reads', `${s.reads.stored} stored, ${s.reads.pendingSync} not yet synced, last ${ago(now, s.reads.lastReadAt)}`, true],
      ['storage', `database ${fmtBytes(s.store.databaseBytes)}, images ${fmtBytes(s.store.imageBytes)} of ${fmtBytes(s.store.imageBudgetBytes)}${s.disk ? `; disk ${fmtBytes(s.disk.freeBytes)} free of ${fmtBytes(s.disk.totalBytes)}` : ''}${s.store.encrypted === false ? '; NOT ENCRYPTED' : ''}`, s.store.encrypted !== false],
      ['hot lists', `${s.hotlists.lists} list(s), ${s.hotlists.entries} entries`, s.hotlists.lists > 0],
      ['alerts', `${s.alerts.raised} raised, ${s.alerts.unacknowledged} unanswered; ${s.alerts.channels.length === 0 ? 'no terminal channel' : s.alerts.channels.map((c) => `${c.name} ${c.connected ? 'connected' : 'NOT CONNECTED'} (${s.alerts.pending[c.name] ?? 0} pending)`).join(', ')}`, s.alerts.channels.every((c) => c.connected)],
      ['sync', s.sync ? `${s.sync.server}; last success ${ago(now, s.sync.lastSuccessAt)}${s.sync.lastError ? `; ${s.sync.consecutiveFailures} failed, last: ${s.sync.lastError.message}` : ''}` : 'off', !s.sync || s.sync.consecutiveFailures === 0],
      ['faults', s.faults.length === 0 ? 'none' : s.faults.map((f) => `${f.code}${f.subject ? ` ${f.subject}` : ''}: ${f.message}`).join('; '), s.faults.length === 0],
    ];
    statusBox.replaceChildren(h('h2', {}, 'status'), h('dl', {}, ...rows.flatMap(([k, v, ok]) => [h('dt', {}, k), h('dd', { class: ok ? '' : 'bad' }, v)])));
    for (const c of s.cameras) {
      let v = views.get(c.id);
      if (!v) {
        const img = h('img', { alt: `latest frame of camera ${c.id}`, class: 'live', 'data-camera': c.id });
        const boxes = h('div', { class: 'boxes' });
        const caption = h('p', { class: 'caption' });
        cams.append(h('figure', { class: 'cam', id: `cam-${c.id}` }, h('div', { class: 'view' }, img, boxes), caption));
        v = { img, boxes, caption };
        views.set(c.id, v);
      }
      v.caption.textContent = `${c.id} (${c.name || c.type}) ${c.connected ? 'connected' : c.finished ? 'finished' : 'NOT CONNECTED'} — fps in ${c.fps.in.toFixed(1)}, processed ${c.fps.processed.toFixed(1)}, dropped ${c.fps.dropped.toFixed(1)}; frames ${c.counters.offered} (dropped ${c.counters.dropped}, failed ${c.counters.failed}); last frame ${ago(now, c.lastFrameAt)}${c.lastError ? `; ${c.lastError}` : ''}`;
      void live(c.id, v);
    }
  }

  async function live(id: string, v: { img: HTMLImageElement; boxes: HTMLElement }): Promise<void> {
    const f = await api<{ capturedAt: number | null; boxes: Array<{ x: number; y: number; width: number; height: number; confidence: number }> }>('GET', `/api/cameras/${encodeURIComponent(id)}/live`).catch(() => null);
    if (!f || f.capturedAt === null) return;
    if (v.img.dataset.at === String(f.capturedAt)) return;
    const img = new Image();
    img.onload = () => {
      v.img.src = img.src;
      v.img.dataset.at = String(f.capturedAt);
      const w = img.naturalWidth;
      const hgt = img.naturalHeight;
      v.boxes.replaceChildren(
        ...f.boxes.map((b) => {
          const d = h('div', { class: 'box', title: `${b.confidence}%` });
          d.style.left = `${(100 * b.x) / w}%`;
          d.style.top = `${(100 * b.y) / hgt}%`;
          d.style.width = `${(100 * b.width) / w}%`;
          d.style.height = `${(100 * b.height) / hgt}%`;
          return d;
        }),
      );
      v.boxes.dataset.count = String(f.boxes.length);
    };
    img.src = `/api/cameras/${encodeURIComponent(id)}/live.jpg?t=${f.capturedAt}`;
  }

  void refresh();
  setInterval(() => void refresh(), 1000);
}

// ---- the data user's search ----
interface ReadSummary {
  id: number;
  plate: string;
  confidence: number;
  cameraId: string;
  firstSeen: number;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  cropPath: string | null;
  framePath: string | null;
}
interface HitSummary {
  readId: number;
  plate: string;
  seenAt: number;
  cameraId: string;
  list: string;
  category: string;
  priority: number;
  how: string;
  entryPlate: string;
  alert: { ackAccepted: boolean | null; ackBy: string | null; suppressed: string | null } | null;
}

function searchPage(): void {
  const field = (id: string, label: string, attrs: Attrs = {}) => {
    const input = h('input', { id, name: id, ...attrs });
    return { input, el: h('label', { for: id }, label, input) };
  };
  const purpose = field('purpose', 'Purpose (required)', { placeholder: 'e.g. stolen vehicle investigation' });
  const caseNo = field('case', 'Case number (required)', { placeholder: 'e.g. 26-004512' });
  const plate = field('plate', 'Plate (? one character, * any)', { autocapitalize: 'characters' });
  const from = field('from', 'From', { type: 'datetime-local' });
  const to = field('to', 'To', { type: 'datetime-local' });
  const camera = field('camera', 'Camera');
  const message = h('p', { class: 'message', id: 'message', role: 'status' });
  const results = h('section', { class: 'results', id: 'results' });
  const detail = h('section', { class: 'detail', id: 'detail' });
  const p = () => ({ purpose: purpose.input.value, caseNumber: caseNo.input.value });
  const q = () => `purpose=${encodeURIComponent(purpose.input.value)}&case=${encodeURIComponent(caseNo.input.value)}`;
  const iso = (v: string) => (v ? new Date(v).toISOString() : undefined);

  async function search(kind: 'reads' | 'hits'): Promise<void> {
    message.textContent = '';
    results.replaceChildren();
    detail.replaceChildren();
    const body = { ...p(), plate: plate.input.value, from: iso(from.input.value), to: iso(to.input.value), camera: camera.input.value };
    try {
      if (kind === 'reads') {
        const r = await api<{ reads: ReadSummary[] }>('POST', '/api/search', body);
        message.textContent = `${r.reads.length} read(s); this search is recorded in the access log`;
        results.append(
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, h('th', {}, 'Crop'), h('th', {}, 'Plate'), h('th', {}, 'Seen'), h('th', {}, 'Camera'), h('th', {}, 'Place'))),
            h(
              'tbody',
              {},
              ...r.reads.map((read) =>
                h(
                  'tr',
                  { 'data-read': read.id, tabindex: 0, onclick: () => void show(read), onkeydown: (e: Event) => (e as KeyboardEvent).key === 'Enter' && void show(read) },
                  h('td', {}, read.cropPath ? h('img', { class: 'thumb', alt: read.plate, src: `/api/reads/${read.id}/crop?${q()}` }) : '—'),
                  h('td', { class: 'plate' }, read.plate),
                  h('td', {}, fmtTime(read.firstSeen)),
                  h('td', {}, read.cameraId),
                  h('td', {}, fmtPlace(read.latitude, read.longitude, read.positionValid)),
                ),
              ),
            ),
          ),
        );
      } else {
        const r = await api<{ hits: HitSummary[] }>('POST', '/api/hits', body);
        message.textContent = `${r.hits.length} hit(s); this query is recorded in the access log`;
        results.append(
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, h('th', {}, 'Plate'), h('th', {}, 'Seen'), h('th', {}, 'List'), h('th', {}, 'Match'), h('th', {}, 'Answer'))),
            h(
              'tbody',
              {},
              ...r.hits.map((x) =>
                h(
                  'tr',
                  {},
                  h('td', { class: 'plate' }, x.plate),
                  h('td', {}, fmtTime(x.seenAt)),
                  h('td', {}, `${x.list} (${x.category || '-'}, P${x.priority})`),
                  h('td', {}, `${x.how} ${x.entryPlate}`),
                  h('td', {}, x.alert ? (x.alert.suppressed ? `not sent (${x.alert.suppressed})` : x.alert.ackAccepted === null ? 'unanswered' : `${x.alert.ackAccepted ? 'accepted' : 'rejected'} by ${x.alert.ackBy ?? '?'}`) : '—'),
                ),
              ),
            ),
          ),
        );
      }
    } catch (err) {
      message.textContent = `refused: ${(err as Error).message}`;
      message.className = 'message bad';
      return;
    }
    message.className = 'message';
  }

  async function show(read: ReadSummary): Promise<void> {
    try {
      const r = await api<ReadSummary>('GET', `/api/reads/${read.id}?${q()}`);
      detail.replaceChildren(
        h('h2', {}, `Read #${r.id}: ${r.plate}`),
        h('p', {}, `${fmtTime(r.firstSeen)} · camera ${r.cameraId} · ${fmtPlace(r.latitude, r.longitude, r.positionValid)} · ${r.confidence.toFixed(0)}%`),
        r.framePath ? h('img', { class: 'frame', id: 'read-frame', alt: `frame of read ${r.id}`, src: `/api/reads/${r.id}/frame?${q()}` }) : h('p', {}, 'frame no longer stored'),
      );
    } catch (err) {
      detail.replaceChildren(h('p', { class: 'bad' }, (err as Error).message));
    }
  }

  const agency = field('agency', 'Receiving agency');
  const requester = field('requester', 'Person who asked');
  const mode = h('select', { id: 'mode', name: 'mode' }, h('option', { value: 'full' }, 'full (reads and images)'), h('option', { value: 'aggregate' }, 'aggregate (counts only)'));
  const releaseMessage = h('p', { class: 'message', id: 'release-message', role: 'status' });
  const release = h(
    'details',
    { class: 'release' },
    h('summary', {}, 'Request a release of what this search selects'),
    h(
      'div',
      { class: 'search' },
      agency.el,
      requester.el,
      h('label', { for: 'mode' }, 'Mode', mode),
      h(
        'div',
        { class: 'buttons' },
        h(
          'button',
          {
            type: 'button',
            class: 'big',
            id: 'request-release',
            onclick: async () => {
              releaseMessage.textContent = '';
              try {
                const r = await api<{ note: string }>('POST', '/api/releases', {
                  ...p(),
                  mode: mode.value,
                  agency: agency.input.value,
                  requester: requester.input.value,
                  plate: plate.input.value,
                  from: iso(from.input.value),
                  to: iso(to.input.value),
                  camera: camera.input.value,
                });
                releaseMessage.textContent = r.note;
              } catch (err) {
                releaseMessage.textContent = `refused: ${(err as Error).message}`;
              }
            },
          },
          'Request release',
        ),
      ),
      releaseMessage,
    ),
  );

  const form = h(
    'form',
    { class: 'search', onsubmit: (e: Event) => (e.preventDefault(), void search('reads')) },
    purpose.el,
    caseNo.el,
    plate.el,
    from.el,
    to.el,
    camera.el,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'big', id: 'search' }, 'Search reads'), h('button', { type: 'button', class: 'big', id: 'hits', onclick: () => void search('hits') }, 'Hot list hits')),
  );
  document.body.append(header('/search'), h('main', { class: 'searching' }, form, message, h('div', { class: 'panes' }, results, detail), can('reads.export') ? release : null));
}

function can(permission: string): boolean {
  return session?.permissions.includes(permission) ?? false;
}

function refusedPage(): void {
  document.body.append(
    header(location.pathname),
    h('main', { class: 'center' }, h('div', { class: 'refused' }, h('h1', {}, 'Not allowed'), h('p', {}, `Your role (${session?.role}) may not open this screen. The attempt is recorded in the access log.`), h('a', { href: session?.home ?? '/' }, 'Back'))),
  );
}

async function main(): Promise<void> {
  applyNight(nightStored());
  const pageName = document.body.dataset.page;
  if (pageName === 'login') {
    loginPage();
    document.body.dataset.ready = '1';
    return;
  }
  session = await api<Session>('GET', '/api/session');
  if (pageName === 'alerts') alertsPage();
  else if (pageName === 'console') consolePage();
  else if (pageName === 'search') searchPage();
  else refusedPage();
  document.body.dataset.ready = '1';
}

void main();
