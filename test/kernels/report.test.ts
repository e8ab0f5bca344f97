import type { StoredCell } from '../../src/domain/cells';
import { renderNotebookReport } from '../../src/kernels/report';

const assay = { lastModified: '2026-01-01T00:00:00Z', lastExecuted: null, executionStatus: null };
const markdown = (source: string, attachments?: Record<string, unknown>): StoredCell => ({
  id: 'md',
  cell_type: 'markdown',
  source,
  metadata: {},
  ...(attachments ? { attachments } : {}),
  assay,
});
const code = (source: string, tags: string[] = [], outputs: unknown[] = []): StoredCell => ({
  id: 'c',
  cell_type: 'code',
  source,
  metadata: { tags },
  outputs,
  execution_count: 1,
  assay,
});

/** The report's body, where the cells are. */
const body = (cells: StoredCell[]) => renderNotebookReport('N', cells).split('<body>')[1];

describe('renderNotebookReport: markdown cells as HTML', () => {
  test.each<{ name: string; given: string; want: string[]; not?: string[] }>([
    {
      name: 'headings, emphasis, lists and code',
      given: '# Title\n\nSome *emphasis* and `code`.\n\n- one\n- two',
      want: ['<h1>Title</h1>', '<em>emphasis</em>', '<code>code</code>', '<li>one</li>'],
    },
    {
      name: 'tables',
      given: '| a | b |\n|---|---|\n| 1 | 2 |',
      want: ['<table>', '<th>a</th>', '<td>2</td>'],
    },
    {
      name: 'links to web pages',
      given: '[docs](https://example.org/a?b=1&c=2)',
      want: ['<a href="https://example.org/a?b=1&amp;c=2">docs</a>'],
    },
    {
      name: 'raw HTML shown as text, never run',
      given:
        'Hi <script>alert(1)</script> <img src=x onerror="alert(2)">\n\n<iframe src="https://example.org"></iframe>',
      want: ['&lt;script&gt;alert(1)&lt;/script&gt;', '&lt;img src=x onerror=&quot;alert(2)&quot;&gt;', '&lt;iframe'],
      not: ['<script', '<img src="x"', '<iframe'],
    },
    {
      name: 'no javascript: or vbscript: links',
      given: '[a](javascript:alert(1)) [b](JAVASCRIPT:alert(1)) [c](vbscript:msgbox) ![d](javascript:alert(1))',
      want: ['[a](javascript:alert(1))'],
      not: ['href="javascript', 'href="JAVASCRIPT', 'href="vbscript', 'src="javascript'],
    },
    {
      name: 'attribute values cannot be broken out of',
      given: '[x](https://example.org/"onmouseover="alert(1))',
      want: ['href="https://example.org/%22onmouseover=%22alert(1)"'],
      not: ['" onmouseover'],
    },
  ])('$name', ({ given, want, not = [] }) => {
    const html = body([markdown(given)]);
    for (const w of want) expect(html).toContain(w);
    for (const n of not) expect(html).not.toContain(n);
  });

  test('images attached to the cell are inlined; unknown attachments are left as they are', () => {
    const html = body([
      markdown('![chart](attachment:chart.png) ![gone](attachment:nope.png)', {
        'chart.png': { 'image/png': 'iVBORw0K\nGgo=' },
      }),
    ]);
    expect(html).toContain('<img src="data:image/png;base64,iVBORw0KGgo=" alt="chart">');
    expect(html).toContain('<img src="attachment:nope.png" alt="gone">');
  });

  test('a malformed attachment name does not stop the report', () => {
    expect(body([markdown('![x](attachment:%E0%A4%A)')])).toContain('alt="x"');
  });
});

describe('renderNotebookReport: code cells', () => {
  test('the injected parameters cell is shown, marked as such', () => {
    const html = body([
      code('n = 1', ['parameters']),
      code('# Parameters (injected)\nn = 5', ['injected-parameters']),
      code('print(n)', [], [{ output_type: 'stream', name: 'stdout', text: '5\n' }]),
    ]);
    expect(html).toContain('<section class="cell injected">');
    expect(html).toContain('injected parameters</span>');
    expect(html).toContain('# Parameters (injected)\nn = 5');
    expect(html.match(/class="cell injected"/g)).toHaveLength(1);
    expect(html).toContain('<pre>5\n</pre>');
  });

  test('a policy keeps scripts and requests out of the page, whatever an output holds', () => {
    const html = renderNotebookReport('N', [
      code('display(HTML(...))', [], [{ output_type: 'display_data', data: { 'text/html': '<b>table</b>' } }]),
    ]);
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    );
    // The policy comes before anything it governs.
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<style>'));
    expect(html).toContain('<div><b>table</b></div>');
  });
});
