/**
 * A strict reader of the Prometheus text format 0.0.4, written from the
 * format's description (not from our renderer), so the tests check the text
 * as a scraper reads it.
 */
export interface ParsedFamily {
  help?: string;
  type?: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

export function parseProm(text: string): Map<string, ParsedFamily> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const out = new Map<string, ParsedFamily>();
  const fam = (name: string) => {
    let f = out.get(name);
    if (!f) out.set(name, (f = { samples: [] }));
    return f;
  };
  const lines = text.split('\n').slice(0, -1);
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/))) {
      const f = fam(m[1]!);
      if (f.help !== undefined || f.samples.length) throw new Error(`${where}: HELP repeated or after samples`);
      f.help = m[2]!.replace(/\\(.)/g, (_, c: string) => {
        if (c === 'n') return '\n';
        if (c === '\\') return '\\';
        throw new Error(`${where}: bad escape \\${c} in HELP`);
      });
      continue;
    }
    if ((m = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/))) {
      const f = fam(m[1]!);
      if (f.type !== undefined || f.samples.length) throw new Error(`${where}: TYPE repeated or after samples`);
      f.type = m[2]!;
      continue;
    }
    if (line.startsWith('#')) throw new Error(`${where}: unexpected comment`);
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/);
    if (!m) throw new Error(`${where}: not a sample`);
    const labels = m[2] ? parseLabels(m[2], where) : {};
    const v = m[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`${where}: bad value`);
    fam(m[1]!).samples.push({ labels, value });
  }
  return out;
}

function parseLabels(s: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 1;
  while (s[i] !== '}') {
    const nm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!nm) throw new Error(`${where}: bad label name at ${i}`);
    i += nm[0].length;
    if (s[i] !== '=' || s[i + 1] !== '"') throw new Error(`${where}: expected =" at ${i}`);
    i += 2;
    let v = '';
    for (;;) {
      const c = s[i++];
      if (c === undefined) throw new Error(`${where}: unterminated label value`);
      if (c === '"') break;
      if (c === '\n') throw new Error(`${where}: raw newline in label value`);
      if (c === '\\') {
        const e = s[i++];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else throw new Error(`${where}: bad escape \\${e}`);
      } else v += c;
    }
    if (nm[0] in out) throw new Error(`${where}: label ${nm[0]} repeated`);
    out[nm[0]] = v;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`${where}: expected , or } at ${i}`);
  }
  if (i !== s.length - 1) throw new Error(`${where}: junk after labels`);
  return out;
}
