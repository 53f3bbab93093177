import iconv from 'iconv-lite';

/**
 * MANSCDP bodies (GB/T 28181 appendix A): small XML documents in GB2312
 * (GBK in practice; the 2022 edition allows UTF-8 when declared). A tiny
 * reader and writer: the documents have no attributes that matter except
 * `Num` on lists, no namespaces and no mixed content.
 */

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlNode[];
}

export class ManscdpError extends Error {}

export function decodeBody(body: Buffer): string {
  const head = body.subarray(0, 100).toString('latin1');
  const enc = /encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1]?.toLowerCase() ?? 'gbk';
  return iconv.decode(body, enc === 'utf-8' || enc === 'utf8' ? 'utf8' : 'gbk');
}

export function encodeBody(xml: string): Buffer {
  return iconv.encode(xml, 'gb2312');
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function unescape(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e] ?? all;
  });
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function parseXml(text: string): XmlNode {
  const src = text.replace(/^\uFEFF/, '').replace(/<\?[\s\S]*?\?>/g, '').replace(/<!--[\s\S]*?-->/g, '');
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  const root: XmlNode = { name: '#root', attrs: {}, text: '', children: [] };
  const stack: XmlNode[] = [root];
  let m: RegExpExecArray | null;
  while ((m = re.exec(src)) !== null) {
    const top = stack[stack.length - 1]!;
    if (m[6]) throw new ManscdpError('not well-formed XML: stray "<"');
    if (m[5] !== undefined) {
      if (stack.length === 1) {
        if (m[5].trim()) throw new ManscdpError('not well-formed XML: text outside the root element');
      } else top.text += unescape(m[5]);
      continue;
    }
    const [, close, name, attrText, selfClose] = m;
    if (close) {
      if (top.name !== name) throw new ManscdpError(`not well-formed XML: </${name}> closes <${top.name}>`);
      top.text = top.text.trim();
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (attrText ?? '').matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]!] = unescape(a[2] ?? a[3] ?? '');
    const node: XmlNode = { name: name!, attrs, text: '', children: [] };
    top.children.push(node);
    if (!selfClose) stack.push(node);
  }
  if (stack.length !== 1) throw new ManscdpError(`not well-formed XML: <${stack[stack.length - 1]!.name}> is never closed`);
  if (root.children.length !== 1) throw new ManscdpError('not well-formed XML: one root element expected');
  return root.children[0]!;
}

/** The text of a direct child (case-insensitive name: platforms differ in `DeviceID`/`DeviceId`). */
export function childText(n: XmlNode, name: string): string | undefined {
  const lower = name.toLowerCase();
  return n.children.find((c) => c.name.toLowerCase() === lower)?.text;
}

export type XmlValue = string | number | undefined | XmlElement | XmlElement[];
export interface XmlElement {
  name: string;
  attrs?: Record<string, string | number>;
  /** Ordered children: [name, value]; undefined values are left out (never zero-filled). */
  children: Array<[string, XmlValue]> | string;
}

function render(e: XmlElement, indent: string): string {
  const attrs = Object.entries(e.attrs ?? {}).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join('');
  if (typeof e.children === 'string') return `${indent}<${e.name}${attrs}>${escapeXml(e.children)}</${e.name}>`;
  const inner: string[] = [];
  for (const [name, v] of e.children) {
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      inner.push(`${indent}  <${name} Num="${v.length}">`);
      for (const item of v) inner.push(render(item, indent + '    '));
      inner.push(`${indent}  </${name}>`);
    } else if (typeof v === 'object') inner.push(render({ ...v, name }, indent + '  '));
    else inner.push(render({ name, children: String(v) }, indent + '  '));
  }
  return `${indent}<${e.name}${attrs}>\r\n${inner.join('\r\n')}\r\n${indent}</${e.name}>`;
}

/** A whole document, GB2312-encoded, as the body of a MESSAGE or NOTIFY. */
export function manscdp(root: 'Response' | 'Notify' | 'Query' | 'Control', children: Array<[string, XmlValue]>): Buffer {
  return encodeBody(`<?xml version="1.0" encoding="GB2312"?>\r\n${render({ name: root, children }, '')}\r\n`);
}

/**
 * GB/T 28181 times carry no zone (`2026-12-05T14:03:00`): they are the local
 * time of the device, read and written in this process's time zone (TZ).
 */
export function gbTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function parseGbTime(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(s.trim());
  if (!m) return undefined;
  const ms = new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7] ? Number(m[7].padEnd(3, '0')) : 0).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
