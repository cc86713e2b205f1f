import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { StoredRead } from '../store/read-store.js';
import { Unit, type ReadEvent } from '../unit/unit.js';
import { AccessLog } from '../access/access-log.js';
import { requirePrincipal } from '../access/session.js';
import { parse } from './args.js';
import { RUN_OPTIONS } from './commands.js';
import { systemClock } from '../util/clock.js';
import { startUiServer, type UiServer } from '../ui/server.js';

/**
 * `alpr-edge run`: the long-running unit. Logs are JSON lines on stdout (the journal under systemd); they never
 * carry plate text, since the log is not an access-controlled path to the data. With --print-reads (a person
 * watching, e.g. the demo) or --json (a program watching) each stored read is also printed, and logs move to
 * stderr.
 */
export async function runCommand(
  argv: string[],
  config: Config,
  makeLogger: (fd: 1 | 2) => Logger,
  opts: { exitWhenDone?: boolean; printReads?: 'text' | 'json'; onScreens?: (url: string) => void; printWithoutSession?: boolean } = {},
): Promise<number> {
  const { values, positionals } = parse(argv, RUN_OPTIONS);
  if (positionals.length > 0) throw new Error(`run takes no arguments (got ${positionals.join(' ')})`);
  const print = values.json ? 'json' : values['print-reads'] ? 'text' : opts.printReads;
  const exitWhenDone = values['exit-when-done'] ?? opts.exitWhenDone ?? false;
  const log = makeLogger(print ? 2 : 1);
  // Everything the unit writes (database, images, status) is for its own user only.
  process.umask(0o077);

  const unit = await Unit.start(config, log, systemClock);
  if (print && !opts.printWithoutSession) {
    // Printing reads shows plate text: on a unit in service (one with users), only to a signed-in user who may
    // search reads, and it is logged. A unit with no user yet (the demo, a bench test) prints freely.
    try {
      authorizePrinting(config, unit);
    } catch (err) {
      await unit.stop();
      throw err;
    }
  }
  // the screens (docs/ui.md): started after the unit, stopped before it
  let ui: UiServer | undefined;
  if (config.ui.enabled) {
    try {
      ui = await startUiServer({ unit, log: log.child({ part: 'ui' }) });
      opts.onScreens?.(ui.url);
    } catch (err) {
      await unit.stop();
      throw err;
    }
  }
  const stopAll = async () => {
    await ui?.close().catch((err: Error) => log.warn({ err: err.message }, 'screens did not close cleanly'));
    await unit.stop();
  };
  unit.on('read', (e) => {
    log.info(
      { read: e.read.id, camera: e.read.cameraId, kind: e.kind, confidence: e.read.confidence, frames: e.read.frameCount },
      e.kind === 'new' ? 'read stored' : e.kind === 'closed' ? 'read closed' : 'read updated',
    );
    if (print === 'json') process.stdout.write(`${JSON.stringify(readLine(e))}\n`);
    else if (print === 'text' && e.kind === 'new') process.stdout.write(`${readText(e)}\n`);
  });

  unit.on('hit', (e) => {
    if (print === 'json') {
      process.stdout.write(
        `${JSON.stringify({ event: 'hit', read: e.read.id, uuid: e.read.uuid, plate: e.read.plate, list: e.hit.list, category: e.hit.category, priority: e.hit.priority, how: e.hit.how, entry: e.hit.plate, alert: e.alert.alert.id, suppressed: e.alert.suppressed })}\n`,
      );
    } else if (print === 'text') {
      const note = e.alert.suppressed ? ` (no alert: ${e.alert.suppressed})` : '';
      process.stdout.write(`HIT   ${e.read.plate} on list ${e.hit.list} (${e.hit.category || 'no category'}, priority ${e.hit.priority}, ${e.hit.how} match of ${e.hit.plate})${note}  #${e.read.id}\n`);
    }
  });

  let signals = 0;
  const stopped = new Promise<number>((resolve) => {
    const stop = (why: string) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: why }, 'second stop request: exiting now');
        process.exit(130);
      }
      log.info({ signal: why }, 'stop requested');
      stopAll().then(
        () => resolve(0),
        (err: Error) => {
          log.error({ err: err.message }, 'unit did not stop cleanly');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    if (exitWhenDone) unit.once('idle', () => stop('all cameras finished'));
    unit.once('fatal', () => {
      signals++; // a signal now exits at once
      void stopAll().finally(() => resolve(1));
    });
  });
  return stopped;
}

function authorizePrinting(config: Config, unit: Unit): void {
  const db = unit.store.database;
  const users = db.prepare(`SELECT count(*) AS n FROM users`).get() as { n: number };
  if (users.n === 0) return;
  const log = new AccessLog(db, unit.auditKey, systemClock);
  const who = requirePrincipal(config, db, log, 'reads.search');
  db.transaction(() =>
    log.append({ user: who.user, agency: who.agency, role: who.role, action: 'watch-reads', query: { printReads: true }, outcome: 'ok' }),
  )();
}

function readLine(e: ReadEvent): Record<string, unknown> {
  const r: StoredRead = e.read;
  return {
    event: e.kind,
    id: r.id,
    uuid: r.uuid,
    camera: r.cameraId,
    plate: r.plate,
    confidence: r.confidence,
    candidates: r.candidates.slice(0, 5),
    firstSeen: new Date(r.firstSeen).toISOString(),
    lastSeen: new Date(r.lastSeen).toISOString(),
    frames: r.frameCount,
    position: r.position,
    crop: r.cropPath,
    frame: r.framePath,
  };
}

function readText(e: ReadEvent): string {
  const r = e.read;
  const time = new Date(r.firstSeen).toISOString().slice(11, 23);
  const where =
    r.position.latitude !== null && r.position.longitude !== null
      ? `${r.position.latitude.toFixed(5)},${r.position.longitude.toFixed(5)}${r.position.valid ? '' : ' (no valid fix)'}`
      : 'no position';
  const tag = e.kind === 'closed' ? 'left ' : 'read ';
  return `${tag} ${time}Z  ${r.cameraId.padEnd(10)} ${r.plate.padEnd(9)} ${r.confidence.toFixed(1).padStart(5)}%  ${String(r.frameCount).padStart(3)} frame(s)  ${where}  #${r.id}`;
}
