import { request } from 'node:http';
import type { LoadedConfig } from '../../config/load-config.js';

/**
 * Buffer drops are counted by the running agent (in memory, since it
 * started) and exposed on its /metrics as bwc_buffer_dropped_total{reason}.
 * Reads them when the configuration enables the endpoint.
 */
export async function agentDrops(loaded: LoadedConfig, timeoutMs = 2000): Promise<{ drops?: Record<string, number>; source: string }> {
  const http = loaded.config.http;
  if (!http.enabled) return { source: 'unavailable: drops are counted by the running agent; enable http in the configuration to read them here' };
  const host = http.host === '0.0.0.0' ? '127.0.0.1' : http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${http.port}/metrics`;
  try {
    const text = await get(url, timeoutMs);
    const drops: Record<string, number> = {};
    for (const m of text.matchAll(/^bwc_buffer_dropped_total\{[^}]*reason="([^"]+)"[^}]*\}\s+([0-9.eE+-]+)$/gm)) drops[m[1]!] = (drops[m[1]!] ?? 0) + Number(m[2]);
    return { drops, source: `agent ${url}` };
  } catch (err) {
    return { source: `unavailable: the agent's ${url} did not answer (${(err as Error).message}): is the agent running?` };
  }
}

function get(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
