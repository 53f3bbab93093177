/**
 * Capture files (gpsd's regression logs and ours) start with `#` comment
 * lines; `# Date: YYYY-MM-DD` tells gpsd the century for two-digit years.
 * Only the leading comment block is read; `#` lines are otherwise ignored by
 * the framer like any junk outside a sentence.
 */
export function captureDate(bytes: Buffer): string | undefined {
  let pos = 0;
  while (pos < bytes.length && bytes[pos] === 0x23 /* # */) {
    let end = bytes.indexOf(0x0a, pos);
    if (end < 0) end = bytes.length;
    const line = bytes.toString('latin1', pos, end).trim();
    const m = /^#\s*Date:\s*(\d{4}-\d{2}-\d{2})\b/.exec(line);
    if (m) return m[1];
    pos = end + 1;
  }
  return undefined;
}
