/** The technician's console: the unit's status, each camera's latest frame with its plate boxes, and a config check. */
import { header } from './chrome.js';
import { h } from './dom.js';
import { fmtBytes } from './format.js';
import { api } from './session.js';

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

const ago = (now: number, t: number | null) => (t === null ? 'never' : `${Math.max(0, Math.round((now - t) / 1000))} s ago`);

export function consolePage(): void {
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
