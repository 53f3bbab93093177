import type { SpotResult } from './spot-check-runner.js';
import { formatBytes } from './progress.js';

/** The `--json` document of the CLI contract: `[{"device","kind","result","reason","files":[…],"bytes","sha256_ok"}]`, extended with officer, seconds and details. */
export function resultsJson(results: SpotResult[]): string {
  return JSON.stringify(results.map((r) => ({
    device: r.device,
    kind: r.kind,
    result: r.result,
    reason: r.reason,
    files: r.files,
    bytes: r.bytes,
    sha256_ok: r.sha256_ok,
    officer: r.officer ?? null,
    seconds: Math.round(r.seconds * 1000) / 1000,
    ...(r.frames !== undefined ? { frames: r.frames } : {}),
    ...(r.firstFrameMs !== undefined ? { first_frame_ms: r.firstFrameMs } : {}),
    ...(r.codec !== undefined ? { codec: r.codec, duration_s: r.durationS ?? 0 } : {}),
    ...(r.latencyMs !== undefined ? { latency_ms: r.latencyMs } : {}),
    ...(r.h264Bytes !== undefined ? { h264_bytes: r.h264Bytes } : {}),
    ...(r.recording !== undefined ? { recording: r.recording } : {}),
    ...(r.resumes !== undefined ? { resumes: r.resumes, resumed_from: r.resumedFrom ?? [] } : {}),
    ...(r.openRecordingSince !== undefined ? { open_recording_since: r.openRecordingSince } : {}),
  })), null, 2) + '\n';
}

/** The human summary: device, officer, kind, result, bytes, seconds (and why, when it did not work). */
export function resultsTable(results: SpotResult[]): string {
  const head = ['device', 'officer', 'kind', 'result', 'bytes', 'seconds', 'detail'];
  const rows = results.map((r) => [
    r.device,
    r.officer ?? '-',
    r.kind,
    r.result,
    formatBytes(r.bytes),
    r.seconds.toFixed(1),
    r.result === 'ok'
      ? [r.frames !== undefined && r.kind === 'live' ? `${r.frames} frames` : '', r.codec ? `${r.codec} ${r.durationS ?? 0} s` : '', r.resumes ? `resumed ${r.resumes}x` : '', r.sha256_ok ? 'sha256 ok' : '',
          r.openRecordingSince ? `last finished recording; recording since ${r.openRecordingSince}, offered once stopped` : ''].filter(Boolean).join(', ')
      : r.reason,
  ]);
  // Chinese names are two columns wide on a terminal.
  const width = (s: string) => [...s].reduce((n, ch) => n + (/[\u1100-\uffff]/.test(ch) ? 2 : 1), 0);
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i]!))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}
