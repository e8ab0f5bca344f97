/** Figures for people, as the job API shows them next to the numbers: `8 minutes 32 seconds`, `2.3 MB`. */

export function describeSeconds(seconds: number): string {
  // Short jobs are the common case: keep a tenth of a second below ten seconds.
  if (seconds < 10) {
    const tenths = Math.round(Math.max(0, seconds) * 10) / 10;
    return `${tenths} second${tenths === 1 ? '' : 's'}`;
  }
  const s = Math.round(seconds);
  const parts: string[] = [];
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (h > 0) parts.push(unit(h, 'hour'));
  if (m > 0) parts.push(unit(m, 'minute'));
  if (rest > 0 || parts.length === 0) parts.push(unit(rest, 'second'));
  return parts.join(' ');
}

export function describeBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${i === 0 ? value : value.toFixed(1)} ${units[i]}`;
}
