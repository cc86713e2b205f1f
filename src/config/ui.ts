import { z } from 'zod';

/** Hosts a browser reaches only from the unit itself: plain HTTP is allowed there and nowhere else. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const file = (what: string) => z.string().default('').describe(what);

/**
 * The unit's screens in the browser (docs/ui.md): the officer's alert screen, the technician's console and the
 * data user's search. Off by default; plain HTTP only on a loopback address, HTTPS everywhere else.
 */
export const uiSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe("Serve the screens (alerts, console, search) from the unit's own web server."),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address to listen on. Anything but a loopback address (127.x, ::1, localhost) needs certFile and keyFile (HTTPS).'),
    port: z.int().min(0).max(65_535).default(8080).describe('Port to listen on (0: any free port).'),
    certFile: file('PEM certificate of the screens (HTTPS); with keyFile. Required unless host is a loopback address.'),
    keyFile: file('PEM private key of that certificate (mode 0600, owned by the unit\'s user).'),
    maxConnections: z.int().min(4).max(1024).default(64).describe('Most open connections at once (a screen uses two or three); more are refused.'),
    maxStreams: z.int().min(1).max(256).default(16).describe('Most alert and live-view streams open at once.'),
    bodyLimitKB: z.int().min(4).max(1024).default(256).describe('Largest request body accepted (a pasted config for `config check` is the largest).'),
  })
  .superRefine((u, ctx) => {
    if ((u.certFile === '') !== (u.keyFile === '')) {
      ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'certFile and keyFile go together' });
    }
    if (u.enabled && !isLoopbackHost(u.host) && (u.certFile === '' || u.keyFile === '')) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `screens on ${u.host} would cross the network in clear: set certFile and keyFile (HTTPS), or listen on 127.0.0.1`,
      });
    }
  })
  .describe('The screens in the browser: alerts for officers, the console for technicians, search for data users (docs/ui.md).');

export type UiConfig = z.infer<typeof uiSchema>;
