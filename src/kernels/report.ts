import type { StoredCell } from '../domain/cells';

/**
 * The HTML report of an executed notebook: every cell's source and its outputs (text, HTML,
 * PNG images, JSON, errors), self-contained in one page.
 */
export function renderNotebookReport(title: string, cells: StoredCell[]): string {
  const parts = cells.map((cell) => {
    if (cell.cell_type === 'markdown') return `<section class="md"><pre>${esc(cell.source)}</pre></section>`;
    if (cell.cell_type !== 'code') return '';
    const outputs = ((cell.outputs ?? []) as Record<string, unknown>[]).map(renderOutput).join('\n');
    const count = cell.execution_count ?? ' ';
    return `<section class="cell"><div class="in">In [${esc(String(count))}]:</div><pre class="src">${esc(cell.source)}</pre>${outputs}</section>`;
  });
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}pre{white-space:pre-wrap}
.src{background:#f6f8fa;padding:.5rem}.in{color:#666;font-size:.8rem}.err{color:#b00}.cell,.md{margin:1rem 0}img{max-width:100%}</style>
</head><body><h1>${esc(title)}</h1><p>Executed ${esc(new Date().toISOString())}.</p>
${parts.join('\n')}
</body></html>
`;
}

function renderOutput(out: Record<string, unknown>): string {
  switch (out.output_type) {
    case 'stream':
      return `<pre>${esc(String(out.text))}</pre>`;
    case 'error':
      // Tracebacks carry ANSI colour codes; drop them.
      return `<pre class="err">${esc(((out.traceback as string[]) ?? []).join('\n').replace(ANSI, ''))}</pre>`;
    default: {
      const data = (out.data ?? {}) as Record<string, unknown>;
      if (typeof data['image/png'] === 'string')
        return `<img alt="plot" src="data:image/png;base64,${String(data['image/png']).replace(/\s/g, '')}">`;
      // Notebook HTML is the notebook's own output (a DataFrame's table), shown as the notebook shows it.
      if (data['text/html'] !== undefined) return `<div>${[data['text/html']].flat().join('')}</div>`;
      if (data['application/json'] !== undefined)
        return `<pre>${esc(JSON.stringify(data['application/json'], null, 2))}</pre>`;
      if (data['text/plain'] !== undefined) return `<pre>${esc([data['text/plain']].flat().join(''))}</pre>`;
      return '';
    }
  }
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

function esc(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
