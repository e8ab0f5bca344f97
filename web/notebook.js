// The notebook page: reads the notebook through Assay's API with the visitor's API key (kept in
// sessionStorage only) or a read-only link's secret (the URL's #share= fragment), shows its blocks or
// cells with their latest results, and follows a running execution through its event stream.
'use strict';

(function () {
  const parts = location.pathname.split('/').filter(Boolean);
  const ids =
    parts[0] === 'notebook'
      ? { tenantId: parts[1], projectId: parts[2], notebookId: parts[3] }
      : { tenantId: parts[1], projectId: parts[2], notebookId: parts[5] };
  const KEY = 'assay.key';
  const SHARE = `assay.share.${ids.notebookId}`;
  const el = (id) => document.getElementById(id);

  // A read-only link's secret moves from the address bar into this tab's storage.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('share')) {
    sessionStorage.setItem(SHARE, fragment.get('share'));
    history.replaceState(null, '', location.pathname);
  }

  const share = () => sessionStorage.getItem(SHARE);
  const key = () => sessionStorage.getItem(KEY);
  const auth = () => ({ Authorization: `Bearer ${share() || key()}` });
  const api = `/api/${ids.tenantId}/${ids.projectId}`;
  const pageUrl = () => (share() ? '/api/shared/notebook' : `${api}/notebook/${ids.notebookId}/page`);
  const artifactUrl = (id) => (share() ? `/api/shared/artifact/${id}` : `${api}/artifact/${id}`);

  let shown = null; // the page last rendered
  let stream = null;
  let poll = null;

  function say(text, isError) {
    const status = el('status');
    status.textContent = text;
    status.className = isError ? 'error' : '';
  }

  function askForKey(message) {
    el('content').replaceChildren();
    el('sign-in').hidden = false;
    el('sign-out').hidden = true;
    el('title').textContent = 'Notebook';
    say(message || 'Sign in with an API key to see this notebook.', Boolean(message));
  }

  async function load() {
    if (!share() && !key()) return askForKey();
    let res;
    try {
      res = await fetch(pageUrl(), { headers: auth(), cache: 'no-store' });
    } catch {
      return say('Assay cannot be reached; retrying.', true);
    }
    if (!res.ok) {
      stopFollowing();
      el('content').replaceChildren();
      if (share()) {
        sessionStorage.removeItem(SHARE);
        el('title').textContent = 'Notebook';
        return say('This read-only link has expired or was revoked. Ask for a new one.', true);
      }
      sessionStorage.removeItem(KEY);
      const body = await res.json().catch(() => ({}));
      return askForKey(body.Message || `The key was refused (${res.status}).`);
    }
    el('sign-in').hidden = true;
    el('sign-out').hidden = Boolean(share());
    render(await res.json());
  }

  function render(page) {
    shown = page;
    document.title = `${page.name} · Assay`;
    el('title').textContent = page.name;
    const content = el('content');
    content.replaceChildren();
    if (page.description) content.append(node('p', {}, page.description));
    if (page.readOnly) content.append(node('p', { class: 'state' }, `Read-only link, until ${when(page.expiresAt)}.`));
    const ex = page.execution;
    say(ex ? `Latest execution: ${ex.status}${ex.endTime ? `, ended ${when(ex.endTime)}` : ''}.` : 'Not executed yet.');
    if (ex && ex.parameters && Object.keys(ex.parameters).length > 0) {
      const section = node('section', { class: 'unit', 'aria-label': 'Parameters' }, node('h2', {}, 'Parameters'));
      section.append(valueView(ex.parameters));
      content.append(section);
    }
    if (page.notebookType === 0) for (const b of page.blocks) content.append(blockView(b, ex));
    else for (const c of page.cells) content.append(cellView(c, ex));
    follow(ex);
  }

  function blockView(block, ex) {
    const result = ex && ex.cellResults.find((r) => r.cellId === block.blockId);
    const section = node('section', { class: 'unit', id: `unit-${block.blockId}` });
    section.append(node('h2', {}, block.blockTitle));
    section.append(
      node(
        'p',
        { class: `state ${result ? result.status : ''}` },
        stateText(block.blockType, block.isDisabled, result),
      ),
    );
    for (const o of ex ? ex.outputs.filter((x) => x.cellId === block.blockId) : []) section.append(outputView(o));
    return section;
  }

  function stateText(kind, disabled, result) {
    if (disabled) return `${kind}, disabled`;
    if (!result) return kind;
    const cases = result.casesIn !== undefined ? `: ${result.casesIn} cases in, ${result.casesOut} out` : '';
    return `${kind}, ${result.status}${cases}`;
  }

  /** An output of the results: a JSON document, text, or a file (images are fetched with the page's credentials). */
  function outputView(o) {
    const box = node('div', { class: 'output' });
    if (o.artifactId && /^image\//.test(o.contentType || '')) {
      const img = node('img', { alt: o.title || 'Output image' });
      fetch(artifactUrl(o.artifactId), { headers: auth() })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
        .then((blob) => (img.src = URL.createObjectURL(blob)))
        .catch(() => img.replaceWith(node('p', { class: 'error' }, `${o.title || 'Image'} could not be loaded.`)));
      box.append(img);
    } else if (o.content !== undefined && o.content !== null && typeof o.content === 'object') {
      box.append(valueView(o.content));
    } else if (o.content !== undefined) {
      box.append(node('pre', {}, String(o.content)));
    }
    return box;
  }

  function cellView(cell, ex) {
    const result = ex && ex.cellResults.find((r) => r.cellId === cell.cellId);
    const section = node('section', { class: 'unit', id: `unit-${cell.cellId}`, 'aria-label': `Cell ${cell.cellId}` });
    if (cell.cellType === 'markdown') {
      const md = node('div', { class: 'markdown' });
      md.innerHTML = cell.html || ''; // rendered by the server with raw HTML escaped; the page's policy blocks scripts
      section.append(md);
      return section;
    }
    const label = cell.tags.includes('injected-parameters') ? 'Injected parameters' : `Cell ${cell.cellId}`;
    section.append(node('h2', {}, label));
    section.append(node('p', { class: `state ${result ? result.status : ''}` }, result ? result.status : 'Not run'));
    section.append(node('pre', { class: 'source' }, cell.source));
    const outputs = node('div', { class: 'outputs' });
    for (const out of cell.outputs) outputs.append(nbOutputView(out));
    section.append(outputs);
    return section;
  }

  /** An nbformat output: text, an error, an image, or HTML in a frame that may run nothing. */
  function nbOutputView(out) {
    if (out.output_type === 'stream') return node('pre', {}, [].concat(out.text).join(''));
    if (out.output_type === 'error') return node('pre', { class: 'error' }, `${out.ename}: ${out.evalue}`);
    const data = out.data || {};
    if (typeof data['image/png'] === 'string') {
      return node('img', { alt: 'Plot', src: `data:image/png;base64,${data['image/png'].replace(/\s/g, '')}` });
    }
    if (data['text/html'] !== undefined) {
      const frame = node('iframe', { sandbox: '', title: 'HTML output', referrerpolicy: 'no-referrer' });
      frame.srcdoc = [].concat(data['text/html']).join('');
      return frame;
    }
    if (data['application/json'] !== undefined) return valueView(data['application/json']);
    return node('pre', {}, [].concat(data['text/plain'] || '').join(''));
  }

  /** A live output of a cell.output event (the results' shape). */
  function liveOutputView(o) {
    if (o.outputType === 'image/png') return node('p', { class: 'state' }, `${o.title}: shown when the run ends.`);
    if (o.contentType === 'text/html') {
      const frame = node('iframe', { sandbox: '', title: 'HTML output' });
      frame.srcdoc = String(o.content || '');
      return frame;
    }
    return outputView(o);
  }

  /** Figures as a definition list, lists of records as tables, anything else as text. */
  function valueView(value, depth = 0) {
    if (Array.isArray(value)) {
      if (value.length > 0 && value.every((v) => v && typeof v === 'object' && !Array.isArray(v))) return table(value);
      return node('p', {}, value.map(scalar).join(', '));
    }
    if (!value || typeof value !== 'object') return node('p', {}, scalar(value));
    const dl = node('dl');
    const rest = [];
    for (const [k, v] of Object.entries(value)) {
      if (v && typeof v === 'object' && depth < 3) rest.push([k, v]);
      else dl.append(node('dt', {}, k), node('dd', {}, scalar(v)));
    }
    const box = node('div');
    if (dl.childElementCount > 0) box.append(dl);
    for (const [k, v] of rest) box.append(node('h3', {}, k), valueView(v, depth + 1));
    return box;
  }

  function table(rows) {
    const shownRows = rows.slice(0, 100);
    const columns = [...new Set(shownRows.slice(0, 20).flatMap((r) => Object.keys(r)))];
    const t = node('table');
    t.append(node('thead', {}, node('tr', {}, ...columns.map((c) => node('th', { scope: 'col' }, c)))));
    const body = node('tbody');
    for (const r of shownRows) body.append(node('tr', {}, ...columns.map((c) => node('td', {}, scalar(r[c])))));
    t.append(body);
    if (rows.length > shownRows.length) t.append(node('caption', {}, `First ${shownRows.length} of ${rows.length}`));
    return t;
  }

  function scalar(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    if (typeof v === 'number' && !Number.isInteger(v)) return String(Math.round(v * 1000) / 1000);
    return String(v);
  }

  // --- following a running execution ------------------------------------------------------------

  function follow(ex) {
    stopFollowing();
    if (ex && ex.status === 'Running' && ex.streamUrl) {
      stream = new EventSource(ex.streamUrl);
      for (const type of [
        'cell.started',
        'cell.output',
        'cell.completed',
        'block.completed',
        'execution.status',
        'job.status',
      ]) {
        stream.addEventListener(type, (e) => onEvent(type, JSON.parse(e.data)));
      }
      // A ticket opens its stream for a minute: after a drop, read the page again for a new one.
      stream.onerror = () => {
        stopFollowing();
        setTimeout(load, 1000);
      };
    } else {
      // Nothing runs: look now and then for a new execution.
      poll = setTimeout(checkForNewRun, 3000);
    }
  }

  function stopFollowing() {
    if (stream) stream.close();
    stream = null;
    clearTimeout(poll);
  }

  async function checkForNewRun() {
    const res = await fetch(pageUrl(), { headers: auth(), cache: 'no-store' }).catch(() => null);
    if (!res || !res.ok) return load();
    const page = await res.json();
    const before = shown && shown.execution;
    const after = page.execution;
    if (
      JSON.stringify(before && [before.executionId, before.status]) !==
      JSON.stringify(after && [after.executionId, after.status])
    ) {
      render(page);
    } else {
      poll = setTimeout(checkForNewRun, 3000);
    }
  }

  function onEvent(type, data) {
    const unit = (id) => el(`unit-${id}`);
    if (type === 'cell.started' && unit(data.cellId)) {
      setState(unit(data.cellId), 'Running', 'Running…');
      unit(data.cellId).querySelector('.outputs')?.replaceChildren();
      say(`Running cell ${data.index + 1}.`);
    } else if (type === 'cell.output' && unit(data.cellId)) {
      unit(data.cellId).querySelector('.outputs')?.append(liveOutputView(data.output));
    } else if (type === 'cell.completed' && unit(data.cellId)) {
      setState(unit(data.cellId), data.status, `${data.status} in ${data.durationMs} ms`);
    } else if (type === 'block.completed' && unit(data.blockId)) {
      setState(unit(data.blockId), data.status, `${data.status}: ${data.casesIn} cases in, ${data.casesOut} out`);
      say(`Block ${data.index + 1} done.`);
    } else if (type === 'job.status' && ['Completed', 'Failed', 'Cancelled'].includes(data.status)) {
      stopFollowing();
      load();
    }
  }

  function setState(section, status, text) {
    const state = section.querySelector('.state');
    if (!state) return;
    state.className = `state ${status}`;
    state.textContent = text;
  }

  // --- small helpers --------------------------------------------------------------------------------

  function node(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : '';
  }

  el('sign-in').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, el('key').value.trim());
    el('key').value = '';
    load();
  });
  el('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    stopFollowing();
    askForKey();
    el('key').focus();
  });
  load();
})();
