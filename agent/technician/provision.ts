import { accessSync, constants, copyFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../config/load-config.js';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import { upsertDevice } from '../../config/write-config.js';
import type { DeviceConfig } from '../../config/schema.js';
import { idProblem, SAFE_ID_RULE } from '../../protocol/identifiers.js';
import type { CameraDriver, CameraIdentity, OfficerBinding, SettingValue } from '../../drivers/camera/camera-driver.js';
import { checkBinding } from '../../drivers/camera/identity-rules.js';
import { BwcError, describeError } from '../../common/errors.js';
import { openReferenceCamera } from '../../drivers/camera/reference-driver.js';
import { explainCameraError, openControl } from './camera-link.js';
import { createCredentials, credentialPaths, credentialProblem, type CredentialKind } from './device-credentials.js';
import { findCameras, type FoundCamera } from './find-cameras.js';
import { findGnssPort } from './gnss-port-finder.js';
import { readSettingsRecord, sameSettings, writeSettingsRecord } from './settings-record.js';
import { sampleNmea } from './nmea-sample.js';
import { StepRunner, type StepRecord } from './step-runner.js';

export interface ProvisionRequest {
  configFile: string;
  /** Control port; absent: discover and pick. */
  port?: string;
  /** Pick the camera with this product or USB serial among those found. */
  serial?: string;
  gnss?: string;
  officerNumber: string;
  officerName: string;
  unitNumber: string;
  /** Absent: keep the unit name the camera has. */
  unitName?: string;
  deviceId?: string;
  profile?: 'foot' | 'vehicle';
  settings: Record<string, SettingValue>;
  credentials: CredentialKind;
  dryRun: boolean;
  timeoutMs: number;
  /** How long to wait for a GNSS fix for the clock. */
  gnssWaitMs: number;
  sysRoot?: string;
  devRoot?: string;
  /** Chooses among several cameras (interactive); absent: several is an error. */
  choose?: (cameras: FoundCamera[]) => Promise<FoundCamera>;
  progress: (r: StepRecord, index: number, total: number) => void;
}

export interface ProvisionReport {
  ok: boolean;
  dryRun: boolean;
  device?: string;
  port?: string;
  gnss?: string;
  serial?: string;
  binding?: OfficerBinding;
  clock?: { source: 'gnss' | 'system'; skewBeforeMs?: number; skewAfterMs?: number };
  credentials?: { kind: CredentialKind; files: string[] };
  config?: string;
  changed: boolean;
  steps: StepRecord[];
  failedStep?: string;
  error?: string;
  undone?: string[];
}

/** Camera clock within this of the reference counts as set. */
const CLOCK_TOLERANCE_MS = 1000;
/** What verification accepts (a read-back takes a round trip or two). */
const VERIFY_CLOCK_MS = 2000;

export const PROVISION_STEPS = ['validate', 'find', 'plan', 'clock-source', 'bind', 'clock', 'settings', 'credentials', 'config', 'verify'] as const;

/**
 * Provisions one camera, in steps (PROVISION_STEPS), each reported as it
 * completes. Everything that can be checked is checked before anything is
 * written: the binding's fields, the configuration and the edit to it, the
 * data folder. Writes go camera first (binding, clock, settings), files last
 * (credentials, then the configuration, atomically with comments kept); a
 * failure at any step undoes the earlier ones (the previous binding is put
 * back, new files removed, the configuration restored). Running it again
 * with the same arguments changes nothing but the clock when it drifted.
 */
export async function provision(req: ProvisionRequest): Promise<ProvisionReport> {
  const runner = new StepRunner(PROVISION_STEPS.length, req.progress);
  const report: ProvisionReport = { ok: false, dryRun: req.dryRun, changed: false, steps: runner.records, config: req.configFile };

  let loaded!: LoadedConfig;
  await runner.step('validate', async () => {
    // The unit name may come from the camera (checked once it is read).
    checkBinding({ officerNumber: req.officerNumber, officerName: req.officerName, unitNumber: req.unitNumber, unitName: req.unitName ?? 'unit' });
    const idBad = req.deviceId === undefined ? undefined : idProblem(req.deviceId);
    if (idBad !== undefined) {
      throw new BwcError('BAD_DEVICE_ID', `--device-id ${JSON.stringify(req.deviceId)} ${idBad}; use ${SAFE_ID_RULE}`);
    }
    loaded = await loadConfig(req.configFile);
    accessSync(req.configFile, constants.W_OK);
    const devicesDir = join(loaded.config.agent.dataDir, 'devices');
    if (!req.dryRun) mkdirSync(devicesDir, { recursive: true });
    return { result: 'ok', detail: `binding fields valid; configuration ${req.configFile} valid (agent ${loaded.config.agent.id})` };
  });

  let target!: { port: string; gnss: string; gnssFrom: string };
  let link: { cam: CameraDriver; close(): Promise<void> } | undefined;
  let before!: CameraIdentity;
  try {
    await runner.step('find', async () => {
      const picked = await pickCamera(req, loaded);
      report.port = picked.port;
      link = await openCamera(picked.port, req.timeoutMs);
      before = await link.cam.identify().catch((err: unknown) => {
        throw explainCameraError(picked.port, err);
      });
      report.serial = before.serial;
      // The camera answers: now its GNSS port, without which it would report nothing.
      target = await withGnssPort(req, loaded, picked.port, picked.gnss);
      report.gnss = target.gnss;
      return { result: 'ok', detail: `camera ${before.serial} (${before.model}, firmware ${before.firmware}) on ${target.port}, GNSS on ${target.gnss} (${target.gnssFrom})` };
    });
    await provisionCamera(req, runner, report, loaded, target, link!.cam, before);
  } finally {
    await link?.close();
  }
  report.ok = true;
  report.changed = runner.records.some((r) => r.result === 'changed' || r.result === 'would-change');
  return report;
}

async function openCamera(port: string, timeoutMs: number): Promise<{ cam: CameraDriver; close(): Promise<void> }> {
  const transport = await openControl(port, timeoutMs);
  const cam = openReferenceCamera(transport.stream, { timeoutMs });
  return {
    cam,
    async close() {
      await cam.close().catch(() => {});
      await transport.close().catch(() => {});
    },
  };
}

async function provisionCamera(
  req: ProvisionRequest, runner: StepRunner, report: ProvisionReport, loaded: LoadedConfig,
  target: { port: string; gnss?: string }, cam: CameraDriver, before: CameraIdentity,
): Promise<void> {
  const changed = (yes: boolean) => (yes ? (req.dryRun ? 'would-change' : 'changed') : 'unchanged') as 'would-change' | 'changed' | 'unchanged';
  {
    const existing = loaded.config.devices.find((d) => d.control === target.port || (req.deviceId !== undefined && d.id === req.deviceId));
    const deviceId = req.deviceId ?? existing?.id ?? before.serial;
    report.device = deviceId;
    const binding: OfficerBinding = { officerNumber: req.officerNumber, officerName: req.officerName, unitNumber: req.unitNumber, unitName: req.unitName ?? before.unitName };
    report.binding = binding;
    const entry: Partial<DeviceConfig> & { id: string } = {
      id: deviceId,
      control: target.port,
      ...(target.gnss ? { gnss: target.gnss } : {}),
      ...(req.profile ? { profile: req.profile } : {}),
    };

    // Everything that can be refused is refused here, before the camera or a file is written.
    let plan!: ReturnType<typeof planConfigEdit>;
    await runner.step('plan', async () => {
      if (req.unitName === undefined) checkBinding(binding);
      plan = planConfigEdit(req.configFile, entry);
      return { result: 'ok', detail: `device ${deviceId}: binding valid; the configuration edit validates (${plan.changed ? (plan.added ? 'a new entry' : 'an updated entry') : 'no change'})` };
    });

    let reference!: { source: 'gnss' | 'system'; at: () => number };
    await runner.step('clock-source', async () => {
      reference = await clockReference(target.gnss, req.gnssWaitMs);
      const detail = reference.source === 'gnss' ? `GNSS time from ${target.gnss}` : target.gnss ? `no GNSS fix on ${target.gnss} within ${req.gnssWaitMs} ms: using the system clock` : 'no GNSS port known: using the system clock';
      return { result: 'ok', detail };
    });

    await runner.step('bind', async () => {
      const same = sameBinding(before, binding);
      if (!same && !req.dryRun) {
        await cam.bindOfficer(binding);
        runner.onUndo(`camera binding restored to officer ${before.officerNumber}`, () => cam.bindOfficer(bindingOf(before)));
      }
      return { result: changed(!same), detail: same ? `already bound to officer ${binding.officerNumber}, unit ${binding.unitNumber}` : `officer ${before.officerNumber} → ${binding.officerNumber} ${binding.officerName}, unit ${binding.unitNumber} ${binding.unitName}` };
    });

    await runner.step('clock', async () => {
      const skew = (await cam.readClock()) - reference.at();
      report.clock = { source: reference.source, skewBeforeMs: skew };
      const off = Math.abs(skew) > CLOCK_TOLERANCE_MS;
      if (off && !req.dryRun) await cam.setClock(reference.at());
      return { result: changed(off), detail: off ? `camera clock was ${formatSkew(skew)}; set from the ${reference.source} clock` : `camera clock within ${CLOCK_TOLERANCE_MS} ms of the ${reference.source} clock (${formatSkew(skew)})` };
    });

    const settings: Record<string, SettingValue> = { 'agent.id': loaded.config.agent.id, 'device.id': deviceId, ...req.settings };
    const creds = credentialPaths(loaded.config.agent.dataDir, deviceId, req.credentials);
    await runner.step('settings', async () => {
      // The camera cannot read its settings back: they are sent every run,
      // and compared with what the last run sent to tell whether they changed.
      const last = readSettingsRecord(creds.dir);
      const same = last !== undefined && sameSettings(last.settings, settings);
      if (!req.dryRun) {
        await cam.writeSettings(settings);
        writeSettingsRecord(loaded.config.agent.dataDir, creds.dir, settings);
      }
      const names = Object.keys(settings).join(', ');
      const detail = same
        ? `${Object.keys(settings).length} settings as written on ${last.writtenAt}${req.dryRun ? '' : ' (sent again)'}: ${names}`
        : `${Object.keys(settings).length} settings ${req.dryRun ? 'to write' : 'written'}: ${names}`;
      return { result: changed(!same), detail };
    });

    await runner.step('credentials', async () => {
      const problem = credentialProblem(creds);
      if (problem && !req.dryRun) {
        const created = createCredentials(loaded.config.agent.dataDir, creds);
        runner.onUndo(`removed new credentials ${created.join(', ')}`, () => created.forEach((f) => rmSync(f, { force: true })));
      }
      report.credentials = { kind: creds.kind, files: [creds.secretFile, ...(creds.publicFile ? [creds.publicFile] : [])] };
      return { result: changed(problem !== undefined), detail: problem ? `${req.credentials} in ${creds.dir} (${problem === 'missing' ? 'new' : `replacing: ${problem}`})` : `${req.credentials} in ${creds.dir} kept` };
    });

    await runner.step('config', async () => {
      if (plan.changed && !req.dryRun) {
        const mode = statSync(req.configFile).mode & 0o777;
        upsertDevice(req.configFile, entry);
        runner.onUndo(`restored ${req.configFile}`, () => atomicWriteFileSync(req.configFile, plan.before, mode));
      }
      return { result: changed(plan.changed), detail: plan.changed ? `device ${deviceId} ${plan.added ? 'added to' : 'updated in'} ${req.configFile}` : `device ${deviceId} already in ${req.configFile}` };
    });

    if (req.dryRun) {
      await runner.step('verify', async () => ({ result: 'skipped', detail: 'dry run: nothing was written' }));
      return;
    }
    await runner.step('verify', async () => {
      const after = await cam.identify();
      if (!sameBinding(after, binding)) throw new BwcError('VERIFY_FAILED', `the camera reads back officer ${after.officerNumber} ${after.officerName}, unit ${after.unitNumber} ${after.unitName}: it did not keep the binding`);
      const skew = (await cam.readClock()) - reference.at();
      report.clock = { ...report.clock!, skewAfterMs: skew };
      if (Math.abs(skew) > VERIFY_CLOCK_MS) throw new BwcError('VERIFY_FAILED', `the camera clock reads ${formatSkew(skew)} after setting it: it did not keep the time`);
      const reloaded = await loadConfig(req.configFile);
      const d = reloaded.config.devices.find((x) => x.id === deviceId);
      if (!d || d.control !== target.port) throw new BwcError('VERIFY_FAILED', `${req.configFile} does not hold device ${deviceId} on ${target.port} after writing it`);
      const problem = credentialProblem(creds);
      if (problem) throw new BwcError('VERIFY_FAILED', `credentials: ${problem}`);
      return { result: 'ok', detail: `binding, clock (${formatSkew(skew)}), configuration and credentials read back` };
    });
  }
}

/** The camera's control port, and its GNSS port when given, configured or found beside it on USB. */
async function pickCamera(req: ProvisionRequest, loaded: LoadedConfig): Promise<{ port: string; gnss?: string }> {
  const configured = (port: string) => loaded.config.devices.find((d) => d.control === port);
  const withGnss = (port: string, gnss: string | undefined) => ({ port, ...(gnss ? { gnss } : {}) });
  if (req.port) return withGnss(req.port, req.gnss ?? configured(req.port)?.gnss);
  const found = await findCameras({ sysRoot: req.sysRoot, devRoot: req.devRoot, match: loaded.config.discovery.usb, timeoutMs: req.timeoutMs });
  let cams = found.cameras;
  if (req.serial) cams = cams.filter((c) => c.identity.serial === req.serial || c.usb?.serial === req.serial);
  if (cams.length === 0) {
    const silent = found.unanswered.length ? `; ports that did not answer: ${found.unanswered.map((u) => `${u.port} (${u.reason})`).join('; ')}` : '';
    throw new BwcError('NO_CAMERA', `no camera found${req.serial ? ` with serial ${req.serial}` : ''}: plug it in and switch it on, or name its control port with --port${silent}`);
  }
  let cam = cams[0]!;
  if (cams.length > 1) {
    if (!req.choose) {
      throw new BwcError('BAD_SEVERAL_CAMERAS', `${cams.length} cameras found (${cams.map((c) => `${c.identity.serial} on ${c.port}`).join(', ')}): choose one with --port or --serial`);
    }
    cam = await req.choose(cams);
  }
  return withGnss(cam.port, req.gnss ?? cam.gnss ?? configured(cam.port)?.gnss);
}

/**
 * The camera's GNSS port: given, configured, found beside it on USB, or
 * found by listening next to the control port. A camera without one would
 * never report a position, so provisioning stops here and asks for --gnss.
 */
async function withGnssPort(req: ProvisionRequest, loaded: LoadedConfig, port: string, known: string | undefined): Promise<{ port: string; gnss: string; gnssFrom: string }> {
  if (known) return { port, gnss: known, gnssFrom: req.gnss ? 'given' : 'configured' };
  const others = loaded.config.devices.filter((d) => d.control !== port).flatMap((d) => [d.gnss, d.control]).filter((p): p is string => !!p);
  const search = await findGnssPort(port, { sysRoot: req.sysRoot, devRoot: req.devRoot, exclude: others, listenMs: Math.min(req.timeoutMs, 3000) });
  if (search.found) {
    return { port, gnss: search.found.port, gnssFrom: search.found.how === 'usb' ? 'beside it on USB' : 'next to it, sending NMEA' };
  }
  throw new BwcError(
    'NO_GNSS_PORT',
    `cannot tell which port is the GNSS port of the camera on ${port}: ${search.reason}. Name it with --gnss PORT (bwc-agent devices lists the ports that send NMEA); a camera without one never reports a position`,
  );
}

/** The time to set: GNSS when a fix arrives in time (carried forward by the system clock), else the system clock. */
async function clockReference(gnss: string | undefined, waitMs: number): Promise<{ source: 'gnss' | 'system'; at: () => number }> {
  if (gnss) {
    try {
      const s = await sampleNmea(gnss, { durationMs: waitMs, fixes: 1 });
      if (s.lastFix && s.lastFixSystemMs !== undefined) {
        const offset = s.lastFix.timeMs - s.lastFixSystemMs;
        return { source: 'gnss', at: () => Date.now() + offset };
      }
    } catch {
      // No GNSS: the system clock it is, and the step says so.
    }
  }
  return { source: 'system', at: () => Date.now() };
}

function sameBinding(a: OfficerBinding, b: OfficerBinding): boolean {
  return a.officerNumber === b.officerNumber && a.officerName === b.officerName && a.unitNumber === b.unitNumber && a.unitName === b.unitName;
}

function bindingOf(id: CameraIdentity): OfficerBinding {
  return { officerNumber: id.officerNumber, officerName: id.officerName, unitNumber: id.unitNumber, unitName: id.unitName };
}

function formatSkew(ms: number): string {
  const s = Math.abs(ms) >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
  return ms >= 0 ? `${s} ahead` : `${s.replace('-', '')} behind`;
}

/**
 * What the configuration edit would make, tried on a copy beside the file
 * (same folder, so relative paths resolve the same) and validated there, so
 * an edit that would be refused is found before the camera is touched.
 */
export function planConfigEdit(file: string, entry: Partial<DeviceConfig> & { id: string }): { before: string; changed: boolean; added: boolean } {
  const before = readFileSync(file, 'utf8');
  const copy = join(dirname(file), `.${basename(file)}.${process.pid}.provision-check`);
  copyFileSync(file, copy);
  try {
    const { added } = upsertDevice(copy, entry);
    return { before, changed: readFileSync(copy, 'utf8') !== before, added };
  } catch (err) {
    throw new BwcError('BAD_CONFIG', `adding device ${entry.id} would make ${file} invalid: ${describeError(err)}`, { cause: err });
  } finally {
    rmSync(copy, { force: true });
  }
}
