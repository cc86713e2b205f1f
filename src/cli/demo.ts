import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { Recognizer } from '../recognition/recognizer.js';
import { packageRoot } from '../util/paths.js';

/**
 * The bundled demo: the recognizer over the generated frames in test-fixtures/plates, each read printed as it
 * happens and logged as JSON. Needs no camera and no network.
 */
export async function demoCommand(config: Config, log: Logger): Promise<number> {
  const dir = path.join(packageRoot(), 'test-fixtures', 'plates');
  const images = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .map((f) => path.join(dir, f));
  const recognizer = await Recognizer.create(config.recognition);
  log.info({ images: images.length, ocrWorkers: recognizer.ocrWorkers, dir }, 'demo: reading bundled frames');
  let plates = 0;
  try {
    for (const image of images) {
      const result = await recognizer.recognizeFile(image);
      for (const p of result.plates) {
        plates++;
        log.info({ image: path.basename(image), plate: p.text, confidence: p.confidence, box: p.box, ms: result.ms }, 'read');
      }
      if (result.plates.length === 0) log.info({ image: path.basename(image), ms: result.ms }, 'no plate');
    }
  } finally {
    await recognizer.close();
  }
  log.info({ images: images.length, plates }, 'demo: done');
  return 0;
}
