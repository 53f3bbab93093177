import type { Logger } from 'pino';
import type { CameraDriver, FootageSource } from '../../drivers/camera/camera-driver.js';
import { MassStorageFootage } from '../../drivers/camera/mass-storage.js';
import { BwcError, describeError } from '../../common/errors.js';

export interface ChosenFootage {
  source: FootageSource;
  via: 'mass-storage' | 'camera';
}

/**
 * Where a device's recordings are read from. A mounted footage folder
 * (device `footageDir`) is preferred: reading a file is many times faster
 * than clip reads over the control channel, and it works while a docked
 * camera has no control channel. When the folder cannot be opened (not
 * mounted right now) the camera is asked instead.
 */
export class FootageAccess {
  private readonly mounts = new Map<string, MassStorageFootage>();

  constructor(
    private readonly footageDir: (deviceId: string) => string | undefined,
    private readonly log: Logger,
  ) {}

  async choose(deviceId: string, camera: CameraDriver | undefined): Promise<ChosenFootage> {
    const dir = this.footageDir(deviceId);
    if (dir) {
      let mount = this.mounts.get(deviceId);
      if (!mount) {
        try {
          mount = await MassStorageFootage.open(dir);
          this.mounts.set(deviceId, mount);
        } catch (err) {
          this.log.warn({ device: deviceId, dir, err: describeError(err) }, 'footage folder not readable: reading recordings over the control channel');
        }
      }
      if (mount) return { source: mount, via: 'mass-storage' };
    }
    if (!camera) throw new BwcError('DEVICE_OFFLINE', `the control channel of ${deviceId} is not connected and no footage folder is mounted`);
    return { source: this.oneReadAtATime(camera), via: 'camera' };
  }

  /**
   * Clip reads over a control channel go one at a time per camera: a resumed
   * transfer may start while the one it replaces still reads, and a camera's
   * serial link answers large reads best in turn (pipelined 256 KiB reads can
   * stall its write side), with status polls fitting in between.
   */
  private oneReadAtATime(camera: CameraDriver): FootageSource {
    return {
      listRecordings: (range) => camera.listRecordings(range),
      readClip: (id, offset, length) => {
        const previous = this.reads.get(camera) ?? Promise.resolve();
        const next = previous.catch(() => undefined).then(() => camera.readClip(id, offset, length));
        this.reads.set(camera, next);
        return next;
      },
    };
  }

  private readonly reads = new WeakMap<CameraDriver, Promise<unknown>>();
}
