import MarkdownIt from 'markdown-it';
import type { StoredCell } from '../domain/cells';
import { INJECTED_PARAMETERS_TAG } from '../domain/parameters';

/**
 * The HTML report of an executed notebook: markdown cells as HTML, every code cell's source and
 * its outputs (text, HTML, PNG images, JSON, errors), self-contained in one page. The cell of
 * injected parameters is shown as such.
 */
export function renderNotebookReport(title: string, cells: StoredCell[]): string {
  const parts = cells.map((cell) => {
    if (cell.cell_type === 'markdown') return `<section class="md">${renderMarkdown(cell)}</section>`;
    if (cell.cell_type !== 'code') return '';
    const outputs = ((cell.outputs ?? []) as Record<string, unknown>[]).map(renderOutput).join('\n');
    const count = cell.execution_count ?? ' ';
    const injected = tagsOf(cell).includes(INJECTED_PARAMETERS_TAG);
    const label = injected ? ' <span class="tag">injected parameters</span>' : '';
    return `<section class="cell${injected ? ' injected' : ''}"><div class="in">In [${esc(String(count))}]:${label}</div><pre class="src">${esc(cell.source)}</pre>${outputs}</section>`;
  });
  // The policy keeps scripts, frames and requests out of the page, whatever the outputs hold:
  // the report is read offline, with its images inline.
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}pre{white-space:pre-wrap}
.src{background:#f6f8fa;padding:.5rem}.in{color:#666;font-size:.8rem}.err{color:#b00}.cell,.md{margin:1rem 0}img{max-width:100%}
.injected .src{background:#fff8e1;border-left:3px solid #f0b400}.tag{background:#f0b400;color:#000;border-radius:.2rem;padding:0 .3rem}
.md table{border-collapse:collapse}.md td,.md th{border:1px solid #ccc;padding:.2rem .5rem}.md code{background:#f6f8fa}</style>
</head><body><h1>${esc(title)}</h1><p>Executed ${esc(new Date().toISOString())}.</p>
${parts.join('\n')}
</body></html>
`;
}

/**
 * CommonMark with GitHub tables and strikethrough. Raw HTML in the cell is shown as text, not
 * rendered, and links to `javascript:`, `vbscript:`, `file:` and non-image `data:` URLs are not
 * made (markdown-it's own link check), so a markdown cell cannot put a script in the report.
 */
const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });
const defaultImage = markdown.renderer.rules.image!;
// `attachment:name` images come from the cell's own attachments, inline as data URLs.
markdown.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  const src = String(token.attrGet('src') ?? '');
  if (src.startsWith('attachment:')) {
    const attachments = (env as { attachments?: Record<string, unknown> } | undefined)?.attachments;
    const bundle = attachments?.[attachmentName(src.slice('attachment:'.length))] as
      Record<string, unknown> | undefined;
    const type = IMAGE_TYPES.find((t) => typeof bundle?.[t] === 'string');
    if (type) token.attrSet('src', `data:${type};base64,${String(bundle![type]).replace(/\s/g, '')}`);
  }
  return defaultImage(tokens, idx, options, env, self);
};
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif'];

/** An attachment's name from its URL; a malformed escape is taken as written. */
function attachmentName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

/** Markdown text as HTML, raw HTML in it escaped (the notebook page's markdown cells). */
export function markdownToHtml(source: string): string {
  return markdown.render(source, { attachments: {} });
}

/** A markdown cell as HTML. */
function renderMarkdown(cell: StoredCell): string {
  return markdown.render(cell.source, { attachments: cell.attachments ?? {} });
}

function tagsOf(cell: StoredCell): string[] {
  const tags = (cell.metadata as { tags?: unknown }).tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
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
