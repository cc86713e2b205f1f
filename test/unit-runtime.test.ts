import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log/logger.js';
import { EventBus, type UnitEvents } from '../src/unit/events.js';
import { Runtime, type Part, type UnitContext } from '../src/unit/runtime.js';

/**
 * The unit's runtime (src/unit/runtime.ts): parts start in order and stop in reverse, a part that fails to start
 * stops those started before it, and a part's subscriptions on the bus are dropped when it stops.
 */

function context(bus = new EventBus<UnitEvents>()): UnitContext {
  // the runtime itself uses only the bus and the logger
  return { bus, logger: createLogger('silent') } as unknown as UnitContext;
}

function part(name: string, log: string[], opts: { failStart?: boolean; failStop?: boolean; on?: keyof UnitEvents } = {}): Part {
  return {
    name,
    async start(ctx) {
      await new Promise((r) => setImmediate(r));
      if (opts.on) ctx.bus.on(name, opts.on, () => log.push(`${name} heard ${String(opts.on)}`));
      if (opts.failStart) throw new Error(`${name} cannot start`);
      log.push(`start ${name}`);
    },
    async stop() {
      log.push(`stop ${name}`);
      if (opts.failStop) throw new Error(`${name} did not stop`);
    },
  };
}

describe('the unit runtime', () => {
  it('starts the parts in order and stops them in reverse; one that fails to stop does not keep the others running', async () => {
    const log: string[] = [];
    const runtime = new Runtime(context(), [part('a', log), part('b', log, { failStop: true }), part('c', log)]);
    await runtime.start();
    await runtime.stop();
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('a part that fails to start: the parts started before it stop (last first), the error is thrown, later parts never start', async () => {
    const log: string[] = [];
    const bus = new EventBus<UnitEvents>();
    const runtime = new Runtime(context(bus), [part('a', log), part('b', log), part('c', log, { failStart: true, on: 'tick' }), part('d', log)]);
    await expect(runtime.start()).rejects.toThrow('c cannot start');
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    expect(bus.subscribers('tick')).toEqual([]);
  });

  it("drops a part's subscriptions when it stops: the parts after it in the data path no longer hear it", async () => {
    const log: string[] = [];
    const bus = new EventBus<UnitEvents>();
    const runtime = new Runtime(context(bus), [part('hotlists', log, { on: 'read.stored' }), part('alerts', log, { on: 'read.stored' })]);
    await runtime.start();
    expect(bus.subscribers('read.stored')).toEqual(['hotlists', 'alerts']);
    bus.emit('read.stored', { kind: 'new', read: {} as never, storeMs: 1 });
    await runtime.stop();
    bus.emit('read.stored', { kind: 'new', read: {} as never, storeMs: 1 });
    expect(log).toEqual(['start hotlists', 'start alerts', 'hotlists heard read.stored', 'alerts heard read.stored', 'stop alerts', 'stop hotlists']);
    expect(bus.subscribers('read.stored')).toEqual([]);
  });

  it('the bus: handlers run in the order they subscribed, a throwing handler throws to the emitter, drop removes one owner only', () => {
    const bus = new EventBus<UnitEvents>();
    const heard: string[] = [];
    bus.on('x', 'tick', (t) => heard.push(`x ${t.now}`));
    bus.on('y', 'tick', (t) => heard.push(`y ${t.now}`));
    bus.on('y', 'stopping', () => heard.push('y stopping'));
    const tick = (now: number) => ({ now, busy: () => false, latestFrameAt: () => undefined });
    bus.emit('tick', tick(1));
    bus.drop('x');
    bus.emit('tick', tick(2));
    bus.emit('stopping', { at: 3 });
    expect(heard).toEqual(['x 1', 'y 1', 'y 2', 'y stopping']);
    bus.on('z', 'fault.fatal', () => {
      throw new Error('handler failed');
    });
    expect(() => bus.emit('fault.fatal', new Error('worker gone'))).toThrow('handler failed');
  });
});
