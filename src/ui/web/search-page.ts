/** The data user's search: reads and hot list hits for a stated purpose and case, a read's images, and release requests. */
import type { HitSummary } from './api-types.js';
import { fmtPlace, fmtTime, header } from './chrome.js';
import { h, type Attrs } from './dom.js';
import { api, can } from './session.js';

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

/** A table: a header row of `columns`, then a row for each of `rows` (a cell that is not a td is put in one). */
function table(columns: string[], rows: Array<{ attrs?: Attrs; cells: Array<Node | string> }>): HTMLTableElement {
  const cell = (c: Node | string) => (c instanceof HTMLTableCellElement ? c : h('td', {}, c));
  return h('table', {}, h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c)))), h('tbody', {}, ...rows.map((r) => h('tr', r.attrs ?? {}, ...r.cells.map(cell)))));
}

const plateCell = (plate: string) => h('td', { class: 'plate' }, plate);

export function searchPage(): void {
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
          table(
            ['Crop', 'Plate', 'Seen', 'Camera', 'Place'],
            r.reads.map((read) => ({
              attrs: { 'data-read': read.id, tabindex: 0, onclick: () => void show(read), onkeydown: (e: Event) => (e as KeyboardEvent).key === 'Enter' && void show(read) },
              cells: [read.cropPath ? h('img', { class: 'thumb', alt: read.plate, src: `/api/reads/${read.id}/crop?${q()}` }) : '—', plateCell(read.plate), fmtTime(read.firstSeen), read.cameraId, fmtPlace(read.latitude, read.longitude, read.positionValid)],
            })),
          ),
        );
      } else {
        const r = await api<{ hits: HitSummary[] }>('POST', '/api/hits', body);
        message.textContent = `${r.hits.length} hit(s); this query is recorded in the access log`;
        const answer = (x: HitSummary) =>
          x.alert ? (x.alert.suppressed ? `not sent (${x.alert.suppressed})` : x.alert.ackAccepted === null ? 'unanswered' : `${x.alert.ackAccepted ? 'accepted' : 'rejected'} by ${x.alert.ackBy ?? '?'}`) : '—';
        results.append(
          table(
            ['Plate', 'Seen', 'List', 'Match', 'Answer'],
            r.hits.map((x) => ({ cells: [plateCell(x.plate), fmtTime(x.seenAt), `${x.list} (${x.category || '-'}, P${x.priority})`, `${x.how} ${x.entryPlate}`, answer(x)] })),
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
