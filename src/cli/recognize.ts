import type { Config, Country } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { Recognizer } from '../recognition/recognizer.js';
import type { FrameResult } from '../recognition/types.js';
import { intOption, parse, UsageError } from './args.js';
import { RECOGNIZE_OPTIONS } from './commands.js';
import { usageOf } from './help.js';

const COUNTRIES: readonly Country[] = ['us', 'eu', 'br'];

/**
 * Reads the plates in each image. Start-up (OpenCV, the OCR workers) is paid once for all images.
 * Exit code 0 when every image could be read, 1 when at least one could not; the others are still processed.
 */
export async function recognizeCommand(argv: string[], config: Config, log: Logger): Promise<number> {
  const { values, positionals } = parse(argv, RECOGNIZE_OPTIONS);
  if (positionals.length === 0) throw new UsageError(`no image given\nusage: ${usageOf('recognize')}`);
  const country = values.country as Country | undefined;
  if (country !== undefined && !COUNTRIES.includes(country)) {
    throw new UsageError(`--country must be one of ${COUNTRIES.join(', ')} (got ${JSON.stringify(country)})`);
  }
  const topN = intOption(values.topn, '--topn', 1, 50);
  const recognizer = await Recognizer.create(config.recognition);
  let failed = 0;
  try {
    for (const image of positionals) {
      try {
        const result = await recognizer.recognizeFile(image, { country, topN });
        process.stdout.write(values.json ? jsonLine(image, result) : textBlock(image, result));
      } catch (err) {
        failed++;
        const message = (err as Error).message;
        log.warn({ image, err: message }, 'image not read');
        process.stdout.write(values.json ? `${JSON.stringify({ image, error: message })}\n` : `${image}: error: ${message}\n`);
      }
    }
  } finally {
    await recognizer.close();
  }
  return failed > 0 ? 1 : 0;
}

function jsonLine(image: string, r: FrameResult): string {
  return `${JSON.stringify({
    image,
    ms: r.ms,
    plates: r.plates.map((p) => ({
      text: p.text,
      confidence: p.confidence,
      box: p.box,
      candidates: p.candidates.map((c) => ({ text: c.text, confidence: c.confidence })),
      ...(p.region ? { region: p.region } : {}),
    })),
  })}\n`;
}

function textBlock(image: string, r: FrameResult): string {
  const lines = [`${image}: ${r.plates.length} plate(s) in ${r.ms} ms (${r.width}x${r.height})`];
  for (const p of r.plates) {
    const b = p.box;
    lines.push(
      `  ${p.text.padEnd(9)} ${p.confidence.toFixed(1).padStart(5)}%  at ${b.x},${b.y} ${b.width}x${b.height}` +
        (p.region ? `  layout ${p.region}` : ''),
    );
    const others = p.candidates.slice(1).map((c) => `${c.text} ${c.confidence.toFixed(0)}%`);
    if (others.length) lines.push(`    also: ${others.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
