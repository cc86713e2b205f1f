import { configDocsMarkdown } from '../config/docs.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { UsageError } from './args.js';
import { usageOf } from './help.js';

/** `config check [FILE]` validates without starting anything; `config docs` prints every key from the schema. */
export async function configCommand(argv: string[], defaultFile: string | undefined): Promise<number> {
  const [sub, file, ...rest] = argv;
  if (sub === 'docs') {
    process.stdout.write(`${configDocsMarkdown()}\n`);
    return 0;
  }
  if (sub !== 'check' || rest.length > 0) throw new UsageError(`usage: ${usageOf('config', 'check')}\n  ${usageOf('config', 'docs')}`);
  const target = file ?? defaultFile;
  let config;
  try {
    config = loadConfig(target);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.stderr.write(`config: ${err.problems.length} problem(s); nothing was started\n`);
      return 1;
    }
    throw err;
  }
  // the reader's model files or language data: a unit must not start half-blind
  const problem = await checkOcrFiles(config.recognition.ocr);
  if (problem) {
    process.stderr.write(`recognition.ocr: ${problem}\n`);
    process.stderr.write('config: 1 problem(s); nothing was started\n');
    return 1;
  }
  process.stdout.write(`config: ${target ?? '(defaults)'} is valid\n`);
  return 0;
}

/** Loads the configured OCR engine's files as the unit would (the models are run once on a test input). */
async function checkOcrFiles(ocr: Config['recognition']['ocr']): Promise<string | undefined> {
  try {
    if (ocr.engine === 'ppocr' || ocr.engine === 'plate-ctc') {
      const { PpOcr } = await import('../recognition/ppocr.js');
      await (await PpOcr.create(ocr.models, ocr.foldModel)).close();
      if (ocr.engine === 'plate-ctc' || ocr.gate) {
        const { PlateCtc } = await import('../recognition/plate-ctc.js');
        await (await PlateCtc.create(ocr.plateModel)).close();
      }
    } else {
      const { locateTessdata } = await import('../recognition/ocr.js');
      locateTessdata(ocr.tessdata);
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
