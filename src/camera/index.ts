import type { CameraConfig } from './config.js';
import { DirectoryCamera, type FileLedger } from './directory.js';
import { ReplayCamera } from './replay.js';
import type { Camera } from './types.js';
import type { Clock } from '../util/clock.js';

export type { Camera } from './types.js';

/**
 * Makes the camera a config entry describes. The gphoto2 and OpenCV types are loaded only when configured, so a
 * unit without libgphoto2 cameras never loads that binding.
 */
export async function createCamera(config: CameraConfig, deps: { ledger: FileLedger; clock: Clock }): Promise<Camera> {
  switch (config.type) {
    case 'replay':
      return new ReplayCamera(config, deps.clock);
    case 'directory':
      return new DirectoryCamera(config, deps.ledger, deps.clock);
    case 'opencv': {
      const { OpencvCamera } = await import('./opencv.js');
      return new OpencvCamera(config); // frames are stamped by its capture process, on the real clock
    }
    case 'gphoto2': {
      const { Gphoto2Camera } = await import('./gphoto2.js');
      return new Gphoto2Camera(config, config.trigger === 'auto' ? { clock: deps.clock } : { trigger: config.trigger, clock: deps.clock });
    }
  }
}
