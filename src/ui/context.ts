import type { FastifyInstance, FastifyRequest } from 'fastify';
import type Database from 'better-sqlite3';
import type { AccessLog } from '../access/access-log.js';
import type { Permission, Principal } from '../access/roles.js';
import type { Logger } from '../log/logger.js';
import type { Unit } from '../unit/unit.js';
import type { Clock } from '../util/clock.js';

/** What each group of routes of the screens is given by the server (src/ui/server.ts). */
export interface UiContext {
  app: FastifyInstance;
  unit: Unit;
  db: Database.Database;
  accessLog: AccessLog;
  clock: Clock;
  log: Logger;
  /** The signed-in person for a read-only request (refusals logged; HttpRefusal thrown). */
  who(req: FastifyRequest, permission: Permission | null): Principal;
  /** The signed-in person for a request that changes something: also requires the session's CSRF token. */
  actor(req: FastifyRequest, permission: Permission | null, action: string): Principal;
}

/** A group of routes; returns what undoes its subscriptions at close. */
export type Routes = (ctx: UiContext) => () => void;
