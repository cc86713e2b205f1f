#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './args.js';
import { packageRoot } from '../util/paths.js';
import { bashCompletion, findCommand, helpCommand, helpFor, markdownTable, resolveCommand, topHelp, unknownCommand, wantsHelp } from './help.js';

/** --config FILE (or --config=FILE) anywhere in the arguments, removed from them. */
function takeConfigFlag(argv: string[]): { file: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config') {
      file = argv[++i];
      if (file === undefined) throw new UsageError('--config needs a file');
    } else if (a.startsWith('--config=')) file = a.slice('--config='.length);
    else rest.push(a);
  }
  return { file, rest };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(topHelp());
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') return version();
  const spec = findCommand(command);
  if (!spec) throw unknownCommand(command);
  // --help anywhere is answered before anything else: no session, no config, no database, no file written
  if (wantsHelp(args)) {
    process.stdout.write(helpFor(spec, args));
    return 0;
  }
  const { file, rest: given } = takeConfigFlag(args);
  if (command === 'help') {
    const { run } = resolveCommand(spec, given);
    const markdown = run.includes('--markdown');
    process.stdout.write(markdown ? markdownTable() : helpCommand(run.filter((a) => a !== '--markdown')));
    return 0;
  }
  // `X help [SUB]` for a command with subcommands (what `central help` always did)
  if (spec.subcommands && given[0] === 'help') {
    process.stdout.write(helpFor(spec, given.slice(1)));
    return 0;
  }
  // an unknown subcommand or option stops here, naming the nearest valid one
  const { run: rest } = resolveCommand(spec, given);
  const configFile = file ?? process.env.ALPR_EDGE_CONFIG;
  if (command === 'version') return version();
  if (command === 'completion') {
    process.stdout.write(bashCompletion());
    return 0;
  }
  if (command === 'config') {
    const { configCommand } = await import('./config-cmd.js');
    return configCommand(rest, configFile);
  }
  if (command === 'key') {
    const { keyCommand } = await import('./keys.js');
    return keyCommand(rest);
  }
  if (command === 'central') {
    // the reference central server: its own data folder, not the unit's config
    const { centralCommand } = await import('./central.js');
    return centralCommand(rest);
  }
  if (command === 'terminal') {
    const { terminalCommand } = await import('./terminal.js');
    return terminalCommand(rest);
  }
  if (command === 'demo') {
    const { demoCommand } = await import('./demo.js');
    return demoCommand(rest, file);
  }

  // the help above needs none of this: a technician's `--help` stays quick on a small unit
  const { loadConfig } = await import('../config/load.js');
  const { createLogger } = await import('../log/logger.js');
  const config = loadConfig(configFile);
  switch (command) {
    case 'recognize': {
      // Results go to stdout (one JSON object per line with --json); logs go to stderr.
      const log = createLogger(config.log.level, 2);
      const { recognizeCommand } = await import('./recognize.js');
      const code = await recognizeCommand(rest, config, log);
      // Exits at once, its output written (stdout and stderr are synchronous on Linux): left to end by itself, the
      // process frees the OpenCV images the garbage collector has not freed yet as its heap is torn down, and
      // opencv4nodejs's image destructor then calls into the dying V8 isolate, a segmentation fault now and then
      // (2 of 12 runs over two photos, exit 139, after every read was printed).
      process.exit(code);
    }
    case 'run': {
      const { runCommand } = await import('./run.js');
      return runCommand(rest, config, (fd) => createLogger(config.log.level, fd));
    }
    case 'status': {
      const { statusCommand } = await import('./status.js');
      return statusCommand(rest, config);
    }
    case 'login': {
      const { loginCommand } = await import('./user.js');
      return loginCommand(rest, config);
    }
    case 'logout': {
      const { logoutCommand } = await import('./user.js');
      return logoutCommand(rest, config);
    }
    case 'whoami': {
      const { whoamiCommand } = await import('./user.js');
      return whoamiCommand(rest, config);
    }
    case 'passwd': {
      const { passwdCommand } = await import('./user.js');
      return passwdCommand(rest, config);
    }
    case 'user': {
      const { userCommand } = await import('./user.js');
      return userCommand(rest, config);
    }
    case 'hold': {
      const { holdCommand } = await import('./holds.js');
      return holdCommand(rest, config);
    }
    case 'store': {
      const { storeCommand } = await import('./keys.js');
      return storeCommand(rest, config);
    }
    case 'search': {
      const { searchCommand } = await import('./data.js');
      return searchCommand(rest, config);
    }
    case 'show': {
      const { showCommand } = await import('./data.js');
      return showCommand(rest, config);
    }
    case 'hits': {
      const { hitsCommand } = await import('./data.js');
      return hitsCommand(rest, config);
    }
    case 'release': {
      const { releaseCommand } = await import('./data.js');
      return releaseCommand(rest, config);
    }
    case 'audit': {
      const { auditCommand } = await import('./audit.js');
      return auditCommand(rest, config);
    }
    case 'camera': {
      const { cameraCommand } = await import('./camera.js');
      return cameraCommand(rest, config);
    }
    case 'sync': {
      const { syncCommand } = await import('./sync.js');
      return syncCommand(rest, config);
    }
    case 'hotlist': {
      const { hotlistCommand } = await import('./hotlist.js');
      return hotlistCommand(rest, config);
    }
    default:
      throw unknownCommand(command);
  }
}

function version(): number {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  process.stdout.write(`alpr-edge ${pkg.version}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`alpr-edge: ${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof Error && err.name === 'ConfigError') {
      process.stderr.write(`${err.message}\nalpr-edge: the configuration is not valid; nothing was started\n`);
      process.exitCode = 1;
    } else if (err instanceof Error && err.name === 'OcrSetupError') {
      process.stderr.write(`alpr-edge: OCR cannot start: ${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof Error && ['AccessDenied', 'PurposeError', 'HoldError', 'HoldAccessError'].includes(err.name)) {
      process.stderr.write(`alpr-edge: refused: ${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof Error && ['VisionError', 'StoreError', 'HotlistError', 'KeyError'].includes(err.name)) {
      process.stderr.write(`alpr-edge: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`alpr-edge: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
