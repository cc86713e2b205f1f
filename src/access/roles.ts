/**
 * Roles with least privilege (LAPD's system administrator / data user / officer, plus the technician who keeps
 * the unit running and the auditor who reads the logs). Every path to stored data checks a permission here.
 */
export const ROLES = ['admin', 'data-user', 'officer', 'technician', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  /** search stored reads, see their plate text */
  | 'reads.search'
  /** view a read's crop or frame image */
  | 'reads.images'
  /** export reads (a release to another agency) */
  | 'reads.export'
  /** see logically deleted reads (with a stated reason) */
  | 'reads.deleted'
  /** history of hot list hits */
  | 'hits.history'
  /** add and cancel hot list entries, import lists */
  | 'hotlist.edit'
  /** acknowledge alerts */
  | 'alerts.ack'
  /** create, disable and reset users */
  | 'users.manage'
  /** place and release evidence holds */
  | 'holds.manage'
  /** approve a release requested by someone else */
  | 'releases.approve'
  /** health, config, cameras (no plate data) */
  | 'unit.operate'
  /** read the access log and audit reports */
  | 'audit.read';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['reads.search', 'reads.images', 'reads.export', 'reads.deleted', 'hits.history', 'hotlist.edit', 'alerts.ack', 'users.manage', 'holds.manage', 'releases.approve', 'unit.operate', 'audit.read'],
  'data-user': ['reads.search', 'reads.images', 'reads.export', 'hits.history'],
  officer: ['alerts.ack', 'hotlist.edit'],
  technician: ['unit.operate'],
  auditor: ['audit.read'],
};

export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

export function permissionsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}

/** Roles that must sign in with a second factor (CA DOJ model policy 429.9: dual-factor for data access). */
export const TWO_FACTOR_ROLES: readonly Role[] = ['admin', 'data-user'];

/** The person acting, once signed in. */
export interface Principal {
  user: string;
  agency: string;
  role: Role;
  sessionId: string;
}

export class AccessDenied extends Error {
  override name = 'AccessDenied';
}
