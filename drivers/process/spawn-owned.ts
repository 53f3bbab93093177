import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Spawns a helper process (socat, ffmpeg) that belongs to this process and
 * to nobody else:
 *
 * - It dies with us, even on a SIGKILL that gives us no chance to stop it:
 *   Linux's parent-death signal, set by util-linux `setpriv --pdeathsig`
 *   just before it executes the helper. Without setpriv (not Linux, or a
 *   stripped image) the helper is spawned as it is and only a clean stop
 *   ends it.
 * - It is in a process group of its own, so a Ctrl-C at a terminal (SIGINT
 *   to the whole foreground group) reaches only us: we stop in order, the
 *   agent before the cameras it reads, instead of the helpers vanishing
 *   first and every port reporting an unplug.
 */
export function spawnOwned(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const wrapped = haveSetpriv() ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args]] as const : [command, args] as const;
  return spawn(wrapped[0], [...wrapped[1]], { ...options, detached: true });
}

let setpriv: boolean | undefined;
function haveSetpriv(): boolean {
  setpriv ??= process.platform === 'linux' && spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore' }).status === 0;
  return setpriv;
}
