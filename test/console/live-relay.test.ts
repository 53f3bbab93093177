import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleAudit } from '../../console/server/console-audit.js';
import type { FrameHeader } from '../../console/fleet/live-frame.js';
import { LiveRelay } from '../../console/server/live-relay.js';
import type { CommandLinks } from '../../console/server/spot-service.js';
import type { TapTest } from '../helpers/tap-test.js';
import { CommandRequest, type CommandLink, type MediaChunkMessage } from '../../console/spot-check/command-link.js';

/**
 * The web console's live relay against a fake command link: how a live
 * view ends. Whatever ends it (the viewer, the camera, the console
 * stopping), the viewer's socket is told once, after its last frame, and
 * nothing of the session is left waiting: a stopped view once kept the
 * console's process alive for minutes after SIGTERM (a wait for the camera's
 * final reply, which never came once the view's subscriptions were gone).
 */
class FakeLink {
  readonly keyId = 'k1';
  readonly fired: Array<{ device: string; kind: string; args: Record<string, unknown> }> = [];
  readonly closed: CommandRequest[] = [];
  req: CommandRequest | undefined;
  onChunk: ((c: MediaChunkMessage) => void) | undefined;
  private accepted!: () => void;
  private readonly acceptance = new Promise<void>((r) => (this.accepted = r));
  private sent!: () => void;
  /** Resolves when the relay has sent its command. */
  readonly commanded = new Promise<void>((r) => (this.sent = r));

  /** The camera accepts: `command` returns; until then the request is in flight. */
  accept(): void {
    this.accepted();
  }

  async command(device: string, kind: string, _args: Record<string, unknown>, opts: { onChunk?: (c: MediaChunkMessage) => void }): Promise<CommandRequest> {
    this.onChunk = opts.onChunk;
    const req = new CommandRequest(device, `cmd-${device}`, kind);
    this.req = req;
    this.sent();
    await this.acceptance;
    return req;
  }

  async fire(device: string, kind: string, args: Record<string, unknown>): Promise<string> {
    this.fired.push({ device, kind, args });
    return 'fired';
  }

  async close(req: CommandRequest): Promise<void> {
    this.closed.push(req);
    this.onChunk = undefined;
  }

  chunk(frame: number): void {
    const data = new Uint8Array([frame, 1, 2, 3]);
    this.onChunk?.({ requestId: 'cmd', index: 0, offset: 0, last: true, contentType: 'image/jpeg', data, totalSize: data.length, frame, timeMs: 1000 + frame, objectId: `f${frame}` });
  }
}

function rig(t: TapTest) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-live-relay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const link = new FakeLink();
  const links = { link: async () => link as unknown as CommandLink } as unknown as CommandLinks;
  const audit = new ConsoleAudit(join(dir, 'audit.log'));
  const relay = new LiveRelay(links, audit, 3600);
  const seen: Array<{ type: 'frame'; h: FrameHeader } | { type: 'ended'; id: string; why: string }> = [];
  const sink = { frame: (h: FrameHeader) => seen.push({ type: 'frame', h }), ended: (id: string, why: string) => seen.push({ type: 'ended', id, why }) };
  return { link, relay, audit, seen, sink, entries: () => ConsoleAudit.verify(audit.file) };
}

/** Listeners left on the request: a pending wait for its final reply holds one (and a timer). */
const waiting = (req: CommandRequest) => req.listenerCount('reply');

t.test('a stopped view leaves nothing waiting; its socket hears live-ended after the last frame', async (t) => {
  const { link, relay, seen, sink, entries } = rig(t);
  const started = relay.start('sup', 'supervisor', 'CAM-1', 120, sink);
  await link.commanded;
  link.chunk(1);
  link.accept();
  const s = await started;
  link.chunk(2);
  t.equal(waiting(link.req!), 1, 'while the view runs, its end is awaited');
  t.equal(relay.stop(s.id), true);
  link.chunk(3); // on its way before the camera heard of the stop
  t.equal(waiting(link.req!), 0, 'the wait for the final reply is given up at once');
  t.same(seen.map((x) => (x.type === 'frame' ? x.h.frame : x.why)), [1, 2, 'stopped by the viewer'], 'frames, then the end, then nothing');
  t.same(link.fired.map((f) => f.kind), ['cancel'], 'the camera is told');
  t.equal(link.closed.length, 1, 'the request\'s subscriptions go');
  t.equal(relay.stop(s.id), false, 'a second stop changes nothing');
  t.same(entries().filter((e) => e.action === 'live.end').map((e) => e.why), ['stopped by the viewer'], 'audited once');
});

t.test('the camera ends the view: the socket is told once, with the camera\'s reason', async (t) => {
  const { link, relay, seen, sink, entries } = rig(t);
  const started = relay.start('sup', 'supervisor', 'CAM-1', 120, sink);
  await link.commanded;
  link.accept();
  const s = await started;
  link.req!.deliverReply({ commandId: link.req!.commandId, status: 'done', reasonCode: 'REASON_NONE', reason: 'duration reached' });
  await new Promise((r) => setImmediate(r));
  t.same(seen, [{ type: 'ended', id: s.id, why: 'duration reached' }]);
  t.equal(waiting(link.req!), 0);
  t.match(entries().find((e) => e.action === 'live.end'), { why: 'done: duration reached' });
});

t.test('stopped while the camera was still accepting: no keepalives, the camera is told', async (t) => {
  const { link, relay, seen, sink } = rig(t);
  const started = relay.start('sup', 'supervisor', 'CAM-1', 120, sink);
  await link.commanded;
  link.chunk(1);
  const id = seen[0]!.type === 'frame' ? seen[0]!.h.live : '';
  t.equal(relay.stop(id), true);
  link.chunk(2);
  link.accept();
  await started;
  t.equal(waiting(link.req!), 0, 'no wait for a view already over');
  t.same(seen.map((x) => x.type), ['frame', 'ended']);
  t.same(link.fired.map((f) => f.kind), ['cancel'], 'cancelled once its command id is known');
  t.equal(link.closed.length, 1);
});

t.test('the console stopping ends every open view', async (t) => {
  const { link, relay, seen, sink, entries } = rig(t);
  const started = relay.start('sup', 'supervisor', 'CAM-1', 120, sink);
  await link.commanded;
  link.accept();
  const s = await started;
  await relay.close();
  t.same(seen, [{ type: 'ended', id: s.id, why: 'console stopping' }]);
  t.equal(waiting(link.req!), 0);
  t.same(link.fired.map((f) => f.kind), ['cancel']);
  t.match(entries().find((e) => e.action === 'live.end'), { why: 'console stopping' });
});
