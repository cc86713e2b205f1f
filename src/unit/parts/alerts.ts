import { createChannels } from '../../alerts/channels.js';
import { readPayload } from '../../alerts/mqtt-topics.js';
import { AlertOutbox } from '../../alerts/outbox.js';
import type { AlertChannel } from '../../alerts/types.js';
import type { StoredHit } from '../../hotlist/index.js';
import type { StoredRead } from '../../store/read-store.js';
import { HotlistSync } from '../../sync/hotlist-sync.js';
import type { Part, UnitContext } from '../runtime.js';

/**
 * The alert outbox and the channels the config names: each `hit` is raised as an alert (recorded before any
 * channel hears of it) and told as `alert.raised`; new reads are published where a channel does that
 * (alerts.mqtt.publishReads), and the unit's `health` goes to every channel that takes it. Urgent hot list
 * messages and who receives reads come from the channels that declare them. Stopping stops the outbox (undelivered
 * alerts stay pending on disk), then the channels.
 */
export class AlertsPart implements Part {
  readonly name = 'alerts';
  private ctx: UnitContext | undefined;
  private currentOutbox: AlertOutbox | undefined;
  channels: AlertChannel[] = [];

  get outbox(): AlertOutbox {
    if (!this.currentOutbox) throw new Error('the alerts part has not started');
    return this.currentOutbox;
  }

  async start(ctx: UnitContext): Promise<void> {
    const { config, logger, store, clock, bus, accessLog } = ctx;
    this.ctx = ctx;
    const channels = await createChannels(config.alerts, config.unit.id, logger.child({ part: 'alerts' }), clock, (ref) => store.readImage(ref));
    this.channels = channels;
    const outbox = new AlertOutbox(store.database, config.alerts, logger.child({ part: 'alerts' }), clock);
    this.currentOutbox = outbox;
    // urgent hot list entries and cancellations from the agency over MQTT, applied at once (and once)
    if (config.sync.hotlists.enabled) {
      const urgent = new HotlistSync(store.database, ctx.hotlists, logger.child({ part: 'hotlist-sync' }));
      for (const channel of channels) {
        channel.onUrgentHotlist?.((payload, topic) => {
          const r = urgent.applyUrgent(payload);
          if (r.ok) logger.info({ topic, result: r.message }, 'urgent hot list message applied');
          else logger.warn({ topic, err: r.message }, 'urgent hot list message refused');
        });
      }
    }
    // plate text leaving over MQTT (alerts.mqtt.publishReads) is a disclosure: who receives it is logged
    for (const channel of channels) {
      channel.onReadsAccess?.((a) => {
        try {
          accessLog.append({
            user: a.who,
            agency: config.unit.agency,
            role: a.role,
            action: a.role === 'terminal' ? 'subscribe-reads' : 'publish-reads',
            purpose: 'live reads over MQTT (alerts.mqtt.publishReads)',
            query: { topic: a.topic, filter: a.filter, clientId: a.clientId, broker: a.broker },
            outcome: 'ok',
          });
          logger.info({ who: a.who, filter: a.filter, broker: a.broker }, 'reads over MQTT: access logged');
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'cannot write the access log for reads over MQTT');
        }
      });
    }
    for (const channel of channels) {
      outbox.attach(channel);
      // a terminal or broker that is not there yet is not a failure: the channel keeps trying
      await channel.start().catch((err: Error) => logger.warn({ channel: channel.name, err: err.message }, 'alert channel not started'));
    }
    bus.on(this.name, 'read.stored', (e) => {
      // a new read on MQTT when alerts.mqtt.publishReads is on (the channel checks)
      if (e.kind === 'new') for (const c of channels) c.publishRead?.(readPayload(e.read));
    });
    bus.on(this.name, 'hit', (e) => this.alertOn(e.hits, e.read));
    bus.on(this.name, 'health', ({ health, faults }) => {
      // to the terminal on the serial line too (FAULT frames; MQTT terminals read them in health)
      for (const c of channels) c.reportFaults?.(faults);
      for (const c of channels) c.publishHealth?.(health);
    });
  }

  /**
   * Alerts already raised stay in the outbox on disk; the outbox gives up a delivery waiting for its ACK at once
   * (it is not marked delivered, and is sent again); then each channel stops, bounded on its own.
   */
  async stop(): Promise<void> {
    await this.currentOutbox?.stop();
    await Promise.allSettled(this.channels.map((c) => c.stop()));
  }

  /** Raises an alert for each new hit (the outbox records it before any channel hears of it). */
  private alertOn(hits: StoredHit[], known?: StoredRead): void {
    const { config, store, bus, logger } = this.ctx!;
    for (const hit of hits) {
      const read = known?.id === hit.readId ? known : store.getRead(hit.readId);
      if (!read) continue;
      const alert = this.outbox.raise({
        readId: read.id,
        hitId: hit.id,
        unitId: config.unit.id,
        plate: read.plate,
        confidence: read.confidence,
        cameraId: read.cameraId,
        seenAt: read.firstSeen,
        latitude: read.position.latitude,
        longitude: read.position.longitude,
        positionValid: read.position.valid,
        ...(read.state ? { plateState: read.state } : {}),
        cropRef: read.cropPath,
        frameRef: read.framePath,
        covert: hit.covert,
        hit: {
          list: hit.list,
          category: hit.category,
          priority: hit.priority,
          matchKind: hit.how,
          distance: hit.how === 'distance' ? hit.distance : undefined,
          entryPlate: hit.plate,
          entryId: hit.entryId,
          entryState: hit.state ?? undefined,
          ...(hit.stateMismatch ? { stateMismatch: true } : {}),
        },
      });
      logger.info(
        { read: read.id, list: hit.list, how: hit.how, alert: alert.alert.id, suppressed: alert.suppressed },
        alert.suppressed ? 'hot list hit recorded (no alert to the terminal)' : 'hot list hit: alert raised',
      );
      bus.emit('alert.raised', { read, hit, alert });
    }
  }
}
