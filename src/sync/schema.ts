import { Cron } from 'croner';
import { z } from 'zod';

/**
 * Configuration of upstream sync: pushing reads (and hits, alert events, the access log and faults) to the
 * agency's central server on a schedule, fetching hot lists back, and the API on which the server may pull.
 * The wire protocol is docs/sync-protocol.md.
 */

const cron = z.string().superRefine((expr, ctx) => {
  try {
    new Cron(expr, { paused: true }).stop();
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a cron expression: ${(err as Error).message}` });
  }
});

const file = (what: string) => z.string().default('').describe(what);

const server = z
  .strictObject({
    url: z.string().default('').describe('Base URL of the central server, e.g. https://alpr.agency.example/api. Plain http:// only with allowInsecureHttp.'),
    allowInsecureHttp: z.boolean().default(false).describe('Allow a plain http:// server URL (reads would cross the network unencrypted): for a loopback test only.'),
    caFile: file("PEM file of the certificate authority that signs the server's certificate (empty: the system's CAs)."),
    certFile: file('PEM client certificate for mutual TLS (with keyFile).'),
    keyFile: file("PEM private key of the client certificate (mode 0600, owned by the unit's user)."),
    tokenFile: file('File holding the bearer token the server issued to this unit (its first line). Read at each cycle, so a new token needs no restart.'),
    connectTimeoutMs: z.int().min(100).max(600_000).default(10_000).describe('Give up connecting to the server after this long.'),
    responseTimeoutMs: z.int().min(100).max(3_600_000).default(30_000).describe('Give up on a request when the server sends nothing for this long (a hung server).'),
  })
  .describe('The central server and how the unit authenticates to it.');

const images = z
  .strictObject({
    mode: z
      .enum(['with-reads', 'deferred', 'off'])
      .default('with-reads')
      .describe('with-reads: crop and frame images go up after their reads in each cycle; deferred: only on images.schedule and when an interface of images.interfaces is up (Wi-Fi at the depot); off: never.'),
    schedule: z.array(cron).max(16).default([]).describe('Deferred mode: cron expressions of the image uploads (e.g. "0 2 * * *").'),
    interfaces: z
      .array(z.string().min(1).max(32))
      .max(16)
      .default([])
      .describe('Deferred mode: upload images only while one of these network interfaces (e.g. wlan0) has an address; empty: any.'),
    chunkKB: z.int().min(4).max(16_384).default(256).describe('Images go up in chunks of this size; an interrupted upload resumes at the last chunk the server has.'),
  })
  .describe('Images: a separate, resumable step after the reads.');

const pull = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve the HTTPS API on which the central server pulls reads (docs/sync-protocol.md).'),
    host: z.string().default('127.0.0.1').describe('Address to listen on.'),
    port: z.int().min(0).max(65_535).default(8443).describe('Port to listen on (0: any free port).'),
    certFile: file("PEM certificate of the unit's API (HTTPS)."),
    keyFile: file('PEM private key of that certificate.'),
    clientCaFile: file('PEM CA of the client certificates accepted (mutual TLS); a client without one is refused at the handshake.'),
    tokensFile: file('File of accepted bearer tokens, one per line: `<name> <token>` (the name is logged as the user of each pull).'),
    allowInsecureHttp: z.boolean().default(false).describe('Serve plain HTTP without certFile/keyFile: for a loopback test only.'),
    maxPageSize: z.int().min(1).max(10_000).default(1000).describe('Most items in one page of a pull.'),
    marksSynced: z.boolean().default(true).describe('A pull of reads after a position acknowledges every read up to that position (they count as synced for retention).'),
  })
  .describe('The API on the unit from which the central server pulls.');

export const syncSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Push to the central server on the schedule (sync.server.url is then required).'),
    schedule: z
      .array(cron)
      .max(16)
      .default(['*/5 * * * *'])
      .describe('Cron expressions (minute hour day month weekday, in local time) of the sync cycles; `alpr-edge sync now` runs one at once.'),
    batchSize: z.int().min(1).max(10_000).default(1000).describe('Most items in one batch.'),
    maxKBps: z.number().min(0).max(1_000_000).default(0).describe('Upload bandwidth limit in KiB/s (0: none): a cellular link shared with the car.'),
    dutyCycle: z
      .number()
      .min(0.05)
      .max(1)
      .default(0.5)
      .describe('Share of the time a backlog push may work: after a batch that took t ms it pauses t × (1/dutyCycle − 1), leaving the CPU to capture (1: no pause).'),
    retry: z
      .strictObject({
        initialMs: z.int().min(10).max(3_600_000).default(2000).describe('First wait after a failed cycle.'),
        maxMs: z.int().min(10).max(86_400_000).default(300_000).describe('Longest wait; each failure doubles the wait, with random jitter.'),
      })
      .prefault({})
      .describe('Back-off after a failed cycle, until it succeeds or the next scheduled cycle.'),
    server: server.prefault({}),
    images: images.prefault({}),
    hotlists: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Fetch the hot lists, entries and cancellations the server publishes in each cycle.'),
      })
      .prefault({}),
    pull: pull.prefault({}),
  })
  .superRefine((s, ctx) => {
    const url = s.server.url;
    if (s.enabled && url === '') ctx.addIssue({ code: 'custom', path: ['server', 'url'], message: 'required when sync.enabled is true' });
    if (url !== '') {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['server', 'url'], message: `"${url}" is not a URL` });
      }
      if (parsed && parsed.protocol === 'http:' && !s.server.allowInsecureHttp) {
        ctx.addIssue({
          code: 'custom',
          path: ['server', 'url'],
          message: 'plain http:// would send reads unencrypted: use https://, or set sync.server.allowInsecureHttp: true for a loopback test',
        });
      } else if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        ctx.addIssue({ code: 'custom', path: ['server', 'url'], message: `"${parsed.protocol}" is not http: or https:` });
      }
    }
    if ((s.server.certFile === '') !== (s.server.keyFile === '')) {
      ctx.addIssue({ code: 'custom', path: ['server', 'certFile'], message: 'certFile and keyFile go together (mutual TLS)' });
    }
    if (s.pull.enabled && !s.pull.allowInsecureHttp && (s.pull.certFile === '' || s.pull.keyFile === '')) {
      ctx.addIssue({ code: 'custom', path: ['pull', 'certFile'], message: 'the pull API needs certFile and keyFile (HTTPS), or allowInsecureHttp: true for a loopback test' });
    }
    if (s.pull.enabled && s.pull.clientCaFile === '' && s.pull.tokensFile === '') {
      ctx.addIssue({ code: 'custom', path: ['pull', 'tokensFile'], message: 'the pull API needs clientCaFile (mutual TLS) or tokensFile: it never serves reads to an unauthenticated client' });
    }
    if (s.retry.maxMs < s.retry.initialMs) ctx.addIssue({ code: 'custom', path: ['retry', 'maxMs'], message: 'must be at least initialMs' });
  })
  .describe('Upstream sync with the agency central server: push on a schedule, hot lists back, pull API.');

export type SyncConfig = z.infer<typeof syncSchema>;
