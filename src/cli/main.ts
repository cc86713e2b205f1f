#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { OcrSetupError } from '../recognition/ocr.js';
import { UsageError } from './args.js';
import { configCommand, CONFIG_USAGE } from './config-cmd.js';
import { packageRoot } from '../util/paths.js';
import { RECOGNIZE_USAGE } from './recognize.js';
import { RUN_USAGE } from './run.js';
import { STATUS_USAGE } from './status.js';
import { DEMO_USAGE } from './demo.js';
import { HOTLIST_USAGE } from './hotlist.js';
import { TERMINAL_USAGE } from './terminal.js';
import { DATA_USAGE } from './data.js';
import { KEY_USAGE } from './keys.js';
import { HOLD_USAGE } from './holds.js';
import { LOGIN_USAGE, USER_USAGE } from './user.js';
import { SYNC_USAGE } from './sync.js';
import { CENTRAL_USAGE } from '../central/cli.js';

const USAGE = `alpr-edge: licence plate reader runtime for edge units

usage:
  ${RUN_USAGE}
  ${STATUS_USAGE}
  ${DEMO_USAGE}
  ${RECOGNIZE_USAGE}
  ${HOTLIST_USAGE}
  ${TERMINAL_USAGE}
  ${LOGIN_USAGE}
  ${USER_USAGE}
  ${DATA_USAGE}
  ${HOLD_USAGE}
  ${KEY_USAGE}
  ${SYNC_USAGE}
  ${CENTRAL_USAGE}
  ${CONFIG_USAGE}
  alpr-edge version

The config file comes from --config FILE, else $ALPR_EDGE_CONFIG, else the built-in defaults.
Any key can be overridden by an environment variable: see \`alpr-edge config docs\`.
`;

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
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'version' || command === '--version') {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`alpr-edge ${pkg.version}\n`);
    return 0;
  }
  const { file, rest } = takeConfigFlag(args);
  const configFile = file ?? process.env.ALPR_EDGE_CONFIG;
  if (command === 'config') return configCommand(rest, configFile);
  if (command === 'key') {
    const { keyCommand } = await import('./keys.js');
    return keyCommand(rest);
  }
  if (command === 'central') {
    // the reference central server: its own data folder, not the unit's config
    const { centralCommand } = await import('../central/cli.js');
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

  const config = loadConfig(configFile);
  switch (command) {
    case 'recognize': {
      // Results go to stdout (one JSON object per line with --json); logs go to stderr.
      const log = createLogger(config.log.level, 2);
      const { recognizeCommand } = await import('./recognize.js');
      return recognizeCommand(rest, config, log);
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
      const { auditCommand } = await import('./data.js');
      return auditCommand(rest, config);
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
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`alpr-edge: ${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nalpr-edge: the configuration is not valid; nothing was started\n`);
      process.exitCode = 1;
    } else if (err instanceof OcrSetupError) {
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
