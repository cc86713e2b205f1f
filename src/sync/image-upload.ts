import { createHash } from 'node:crypto';
import { SyncError, statusError, type SyncHttp } from './http.js';

/**
 * Uploads one image file to `where` (docs/sync-protocol.md, images) in chunks of `chunk` bytes: the server's HEAD
 * says how much of it it has (by SHA-256), so an interrupted upload resumes there and a complete one is not sent
 * again. Counts in `report` each chunk's bytes as it is acknowledged, and a resumed upload.
 */
export async function uploadImage(
  http: SyncHttp,
  where: string,
  bytes: Buffer,
  format: string,
  chunk: number,
  report: { bytes: number; resumed: number },
): Promise<void> {
  const sha = createHash('sha256').update(bytes).digest('hex');
  const head = await http.request({ method: 'HEAD', path: where });
  let offset = 0;
  if (head.status === 200) {
    const theirs = head.headers['x-image-sha256'];
    const received = Number(head.headers['x-received-bytes'] ?? 0);
    if (theirs === sha && head.headers['x-complete'] === '1') offset = bytes.length;
    else if (theirs === sha && received > 0 && received < bytes.length) {
      offset = received;
      report.resumed++;
    }
  } else if (head.status !== 404) {
    throw statusError(head, `HEAD ${where}`);
  }
  let conflicts = 0;
  while (offset < bytes.length) {
    const end = Math.min(bytes.length, offset + chunk);
    const res = await http.request({
      method: 'PUT',
      path: where,
      body: bytes.subarray(offset, end),
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `bytes ${offset}-${end - 1}/${bytes.length}`,
        'x-image-sha256': sha,
        'x-image-format': format,
      },
    });
    if (res.status === 409) {
      if (++conflicts > 3) throw new SyncError(`PUT ${where}: the server keeps disagreeing about how much of the image it has`, 'protocol', 409);
      const at = Number(res.headers['x-received-bytes'] ?? NaN);
      offset = Number.isInteger(at) && at >= 0 && at <= bytes.length ? at : 0;
      continue;
    }
    if (res.status !== 200 && res.status !== 201) throw statusError(res, `PUT ${where}`);
    report.bytes += end - offset;
    offset = end;
  }
}
