import type { HealthPayload } from '../../alerts/mqtt-topics.js';
import { SyncEngine } from '../../sync/engine.js';
import { destinationClaim } from '../../config/load.js';
import { importInWorker } from '../hotlist-import.js';
import { startPullServer } from '../../sync/pull-server.js';
import type { Part, UnitContext } from '../runtime.js';

/** What the upstream parts ask of the running unit. */
export interface UnitView {
  health(): HealthPayload;
  /** Whether a camera's frames are being dropped now (capture comes first: a push waits). */
  captureFallingBehind(): boolean;
}

/**
 * Upstream sync (sync.enabled): reads, hits, alert events, the access log, faults, health and images pushed to the
 * agency's server on its schedule, faults at once when one is raised or cleared (`fault.changed`). Stopping cuts a
 * cycle waiting on the server (what it did not get goes next time).
 */
export class SyncPart implements Part {
  readonly name = 'sync';
  engine: SyncEngine | undefined;

  constructor(private readonly unit: UnitView) {}

  start(ctx: UnitContext): void {
    const { config, store, hotlists, clock, logger, accessLog, bus } = ctx;
    if (!config.sync.enabled) return;
    this.engine = new SyncEngine({
      config: config.sync,
      unitId: config.unit.id,
      store,
      hotlists,
      importer: importInWorker(config, clock),
      health: () => this.unit.health(),
      // capture first: a push waits while a camera's frames are being dropped
      captureBusy: () => this.unit.captureFallingBehind(),
      log: logger.child({ part: 'sync' }),
      // where the reads go is recorded in the store; a change of destination is written to the access log
      destination: destinationClaim(config),
      accessLog,
      actor: { user: `unit ${config.unit.id}`, agency: config.unit.agency, role: 'system' },
    });
    this.engine.start();
    const engine = this.engine;
    // raised or cleared: the agency hears of it now, not at the next scheduled cycle (P16)
    bus.on(this.name, 'fault.changed', () => engine.pushFaultsSoon());
  }

  async stop(): Promise<void> {
    await this.engine?.stop();
  }
}

/** The pull API (sync.pull.enabled): the agency fetches reads; a pull API that cannot start is logged, not fatal. */
export class PullPart implements Part {
  readonly name = 'pull';
  private server: { url: string; close(): Promise<void> } | undefined;

  constructor(private readonly unit: UnitView) {}

  async start(ctx: UnitContext): Promise<void> {
    const { config, store, accessLog, logger } = ctx;
    if (!config.sync.pull.enabled) return;
    try {
      this.server = await startPullServer({
        config: config.sync.pull,
        store,
        accessLog,
        unitId: config.unit.id,
        agency: config.unit.agency,
        health: () => this.unit.health(),
        log: logger.child({ part: 'pull' }),
      });
      logger.info({ url: this.server.url }, 'pull API listening');
    } catch (err) {
      // the unit reads plates without it; the fault shows in the logs and status
      logger.error({ err: (err as Error).message }, 'pull API cannot start');
    }
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
