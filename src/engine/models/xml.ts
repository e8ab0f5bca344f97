import { SaxesParser } from 'saxes';
import { MODEL_LIMITS, ModelError } from './modelError';

/** One element of a model file: its local name (no prefix), attributes, child elements and own text. */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data (CDATA included), concatenated; children's text is not in it. */
  text: string;
}

/**
 * Reads a small XML document (a model file) into a tree, safely: a DOCTYPE is refused before
 * anything can be expanded (no DTDs, no entities, so no entity bombs and no external entities),
 * NUL bytes and invalid UTF-8 are refused, and the size, nesting depth and element count are
 * bounded by `MODEL_LIMITS`. `kind` names the format in messages ("PNML", "BPMN").
 */
export function parseXml(input: string | Buffer, kind: string): XmlElement {
  const text = decode(input, kind);
  if (text.trim() === '') throw new ModelError('INVALID_MODEL_FILE', `The ${kind} file is empty.`);
  if (text.includes('\u0000')) throw new ModelError('INVALID_MODEL_FILE', `The ${kind} file contains NUL bytes.`);

  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;

  parser.on('doctype', () => {
    throw new ModelError('INVALID_MODEL_FILE', `DTDs and entity declarations are not accepted in ${kind} files.`);
  });
  parser.on('error', (err) => {
    throw new ModelError('INVALID_MODEL_FILE', `The ${kind} file is not well-formed XML: ${err.message}`);
  });
  parser.on('opentag', (tag) => {
    elements++;
    if (elements > MODEL_LIMITS.maxElements) {
      throw new ModelError(
        'INVALID_MODEL_FILE',
        `The ${kind} file has more than ${MODEL_LIMITS.maxElements} elements.`,
      );
    }
    if (stack.length >= MODEL_LIMITS.maxDepth) {
      throw new ModelError(
        'INVALID_MODEL_FILE',
        `The ${kind} file nests elements more than ${MODEL_LIMITS.maxDepth} deep (at <${tag.name}>).`,
      );
    }
    const attributes: Record<string, string> = {};
    for (const [key, value] of Object.entries(tag.attributes)) attributes[key] = String(value);
    const element: XmlElement = { name: localName(tag.name), attributes, children: [], text: '' };
    const parent = stack.at(-1);
    if (parent) parent.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const addText = (chunk: string) => {
    const current = stack.at(-1);
    if (current) current.text += chunk;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);

  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError('INVALID_MODEL_FILE', `The ${kind} file could not be read: ${(err as Error).message}`);
  }
  if (!root) throw new ModelError('INVALID_MODEL_FILE', `The ${kind} file has no root element.`);
  return root;
}

function decode(input: string | Buffer, kind: string): string {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > MODEL_LIMITS.maxBytes) {
    throw new ModelError('INVALID_MODEL_FILE', `The ${kind} file is larger than ${MODEL_LIMITS.maxBytes} bytes.`);
  }
  if (typeof input === 'string') return input.replace(/^\uFEFF/, '');
  try {
    // ignoreBOM false: a UTF-8 byte order mark is dropped.
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    throw new ModelError('INVALID_MODEL_FILE', `The ${kind} file is not UTF-8 text.`);
  }
}

/** The element's children of a local name. */
export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => child.name === name);
}

/** The first child of a local name, if any. */
export function childNamed(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((child) => child.name === name);
}

/** Escapes text for an XML attribute value or character data. */
export function escapeXml(value: string): string {
  return (
    value
      // Characters XML 1.0 cannot hold at all (control characters) become U+FFFD.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon >= 0 ? name.slice(colon + 1) : name;
}
