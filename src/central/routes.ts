import type { Logger } from '../log/logger.js';
import type { CentralDb } from './db.js';
import type { HotlistFolder } from './hotlist-folder.js';
import { HttpError } from './http.js';

/** The central server's paths (docs/sync-protocol.md), the methods each allows, and what their handlers share. */

export interface RouteContext {
  db: CentralDb;
  log: Logger;
  hotlists: HotlistFolder;
}

export type Route =
  | { kind: 'batch'; unit: string; stream: string }
  | { kind: 'health'; unit: string }
  | { kind: 'head'; unit: string }
  | { kind: 'image'; unit: string; readUuid: string; imageKind: string }
  | { kind: 'manifest'; unit: string }
  | { kind: 'file'; name: string };

export const ROUTE_METHODS: Record<Route['kind'], string[]> = {
  batch: ['POST'],
  health: ['PUT'],
  head: ['POST', 'GET'],
  image: ['HEAD', 'PUT'],
  manifest: ['GET', 'HEAD'],
  file: ['GET', 'HEAD'],
};

export function route(pathname: string): Route | undefined {
  let parts: string[];
  try {
    parts = pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'the path is not valid URL encoding');
  }
  const [v, a, b, c, d, e, f, ...more] = parts;
  if (v !== 'v1' || more.length) return undefined;
  if (a === 'units' && b !== undefined) {
    if (c === 'batches' && d !== undefined && e === undefined) return { kind: 'batch', unit: b, stream: d };
    if (c === 'health' && d === undefined) return { kind: 'health', unit: b };
    if (c === 'access-log' && d === 'head' && e === undefined) return { kind: 'head', unit: b };
    if (c === 'hotlists' && d === undefined) return { kind: 'manifest', unit: b };
    if (c === 'images' && d !== undefined && e !== undefined && f === undefined) return { kind: 'image', unit: b, readUuid: d, imageKind: e };
    return undefined;
  }
  if (a === 'hotlists' && b === 'files' && c !== undefined && d === undefined) return { kind: 'file', name: c };
  return undefined;
}
