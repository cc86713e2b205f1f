// Types only and no imports: the browser's build (src/ui/web/tsconfig.json) includes this file too, through
// src/ui/web/api-types.ts, so that the hit history screen reads the type the unit writes.

/** A hit as the history of hits shows it: the read, the entry, and what the officer answered to its alert. */
export interface HitSummary {
  hitId: number;
  readId: number;
  plate: string;
  seenAt: number;
  cameraId: string;
  list: string;
  category: string;
  priority: number;
  how: string;
  entryPlate: string;
  caseNumber: string | null;
  alert: { id: string; suppressed: string | null; ackAccepted: boolean | null; ackBy: string | null } | null;
}
