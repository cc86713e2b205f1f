/**
 * A patrol terminal simulator on a serial port, for technicians testing an installation (`alpr-edge terminal
 * --serial PATH`) and for tests. It speaks the terminal's side of docs/serial-protocol.md: ACKs every ALERT frame
 * (a retransmitted alert is ACKed again but shown once), sends heartbeats, and sends the officer's answer (RESP)
 * until the unit ACKs it. Options make it misbehave on purpose (lost ACKs, damaged ACKs, NAKs) so the unit's
 * retransmission can be seen at work.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { SerialTerminal, type ReceivedAlert, type SerialTerminalOptions } from './terminal-serial-link.js';

export { SerialTerminal, type ReceivedAlert, type SerialTerminalEvents, type SerialTerminalOptions, type SerialTerminalStatus } from './terminal-serial-link.js';

export interface TerminalIo {
  /** Lines typed by a person: `a <n|id> [officer]`, `r <n|id> <reason> [officer]`, `l`, `s`, `h`, `q`. */
  input: Readable;
  /** Where alerts and answers are printed. */
  output: Writable;
  /** Ends the session (Ctrl-C in the CLI). */
  signal?: AbortSignal;
}

export interface RunTerminalOptions extends Omit<SerialTerminalOptions, 'path'> {
  /** Officer id sent with answers that name none. */
  officer?: string;
}

const HELP = [
  'commands:',
  '  a <n|id> [officer]           accept alert n (the officer confirms the hit)',
  '  r <n|id> <reason> [officer]  reject alert n, e.g. r 3 NOT-MATCH',
  '  l                            list alerts',
  '  s                            link status',
  '  q                            quit',
].join('\n');

/**
 * The interactive terminal: prints each alert as it arrives and sends the answers typed on `io.input`. Resolves
 * when the person quits, the input ends or `io.signal` aborts; the port is closed by then.
 */
export async function runSerialTerminal(path: string, opts: RunTerminalOptions, io: TerminalIo): Promise<void> {
  const { officer, ...options } = opts;
  const print = (text: string) => io.output.write(text + '\n');
  const terminal = new SerialTerminal({ ...options, path });
  const now = options.clock;
  terminal.on('alert', (a) => print(formatAlert(a)));
  terminal.on('repeat', (a) => print(`(alert #${a.number} ${a.delivery.alert.id} received again: already shown)`));
  terminal.on('open', () => print(`[${clock(now())}] port ${path} open; waiting for alerts`));
  terminal.on('lost', (reason) => print(`[${clock(now())}] ${reason}; reopening`));
  terminal.on('recorded', (id) => print(`answer to ${id} recorded by the unit`));
  terminal.on('fault', (f) =>
    print(`[${clock(now())}] UNIT ${f.state === 'RAISED' ? 'FAULT' : 'fault cleared'}: ${f.code}${f.subject ? ` ${f.subject}` : ''}: ${f.message} (since ${clock(f.since)})`),
  );

  let lastOpenError: string | null = null;
  const watch = setInterval(() => {
    const error = terminal.isOpen ? null : terminal.status().lastError;
    if (error && error !== lastOpenError) print(`[${clock(now())}] ${error}; retrying`);
    lastOpenError = error;
  }, 500);

  const lines = createInterface({ input: io.input, terminal: false });
  const done = new Promise<void>((resolve) => {
    const finish = () => resolve();
    lines.once('close', finish);
    io.signal?.addEventListener('abort', finish, { once: true });
    if (io.signal?.aborted) finish();
    lines.on('line', (raw) => {
      const words = raw.trim().split(/\s+/).filter((w) => w !== '');
      const [command, ref] = words;
      if (command === undefined) return;
      switch (command.toLowerCase()) {
        case 'q':
        case 'quit':
          finish();
          return;
        case 'l':
        case 'list':
          if (terminal.list().length === 0) print('no alerts yet');
          for (const a of terminal.list()) print(summary(a));
          return;
        case 's':
        case 'status':
          print(JSON.stringify(terminal.status()));
          return;
        case 'a':
        case 'accept':
        case 'r':
        case 'reject': {
          const accepted = command.toLowerCase().startsWith('a');
          const alert = ref === undefined ? undefined : terminal.find(ref);
          if (ref === undefined) {
            print(accepted ? 'usage: a <n|id> [officer]' : 'usage: r <n|id> <reason> [officer]');
            return;
          }
          const reason = accepted ? null : (words[2] ?? null);
          if (!accepted && reason === null) {
            print('usage: r <n|id> <reason> [officer]   (reasons: NOT-MATCH, CLEARED, NO-CONTACT, DUPLICATE, OTHER)');
            return;
          }
          const by = words[accepted ? 2 : 3] ?? officer ?? null;
          // An id the terminal never showed is still sent: the unit records it as an answer to an unknown alert.
          const id = alert?.delivery.alert.id ?? ref;
          print(
            `sending ${accepted ? 'ACCEPT' : `REJECT ${reason}`} for ` +
              (alert ? `#${alert.number} ${id}` : `${id} (not an alert shown here)`),
          );
          terminal.respond(id, accepted, reason, by).catch((err: Error) => print(`not recorded: ${err.message}`));
          return;
        }
        default:
          print(HELP);
      }
    });
  });

  print(`alpr-edge terminal simulator on ${path}`);
  print(HELP);
  await terminal.start();
  await done;
  clearInterval(watch);
  lines.close();
  await terminal.stop();
}

/** An alert the way an officer needs to read it. */
export function formatAlert(a: ReceivedAlert): string {
  const { alert, lateMs, expired } = a.delivery;
  const hit = alert.hit;
  const marks = [
    expired ? 'EXPIRED (not a live hit)' : '',
    lateMs !== undefined ? `LATE by ${seconds(lateMs)}` : '',
  ].filter((m) => m !== '');
  const match =
    hit.matchKind +
    (hit.distance !== undefined ? ` (${hit.distance} ${hit.distance === 1 ? 'character differs' : 'characters differ'})` : '') +
    ` with listed ${hit.entryPlate}${hit.entryState ? ` (${hit.entryState})` : ''}`;
  const position =
    alert.latitude !== null && alert.longitude !== null
      ? `${alert.latitude}, ${alert.longitude}${alert.positionValid ? '' : ' (not valid)'}`
      : 'unknown';
  const images = [alert.cropRef && `crop ${alert.cropRef}`, alert.frameRef && `frame ${alert.frameRef}`].filter(Boolean);
  return [
    '',
    `=== ALERT #${a.number}  ${alert.plate}  ${marks.join('  ')}`.trimEnd(),
    `  hot list   ${hit.list} / ${hit.category}, priority ${hit.priority}`,
    `  match      ${match}`,
    `  seen       ${isoShort(alert.seenAt)} by camera ${alert.cameraId}, confidence ${alert.confidence}`,
    `  raised     ${isoShort(alert.raisedAt)} (alert ${alert.id}, #${alert.seq} of unit ${alert.unitId})`,
    `  position   ${position}`,
    ...(images.length > 0 ? [`  images     ${images.join(', ')}`] : []),
    `  !! ${alert.notice}`,
    `  answer:    a ${a.number}   |   r ${a.number} <reason>`,
  ].join('\n');
}

function summary(a: ReceivedAlert): string {
  const { alert, expired, lateMs } = a.delivery;
  const answer = a.answer
    ? `${a.answer.accepted ? 'accepted' : `rejected ${a.answer.reasonCode ?? ''}`}${a.answer.recorded ? '' : ' (not yet recorded)'}`
    : 'unanswered';
  const marks = `${expired ? ' EXPIRED' : ''}${lateMs !== undefined ? ' LATE' : ''}`;
  return `#${a.number} ${alert.plate} ${alert.hit.list}/${alert.hit.category} p${alert.hit.priority}${marks} ${isoShort(alert.raisedAt)} ${answer}`;
}

function isoShort(t: number): string {
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 19);
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
}
