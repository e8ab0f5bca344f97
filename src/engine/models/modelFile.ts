import fs from 'node:fs';
import { bpmnToNet } from './bpmn';
import { MODEL_LIMITS, ModelError } from './modelError';
import type { PetriNet } from './petriNet';
import { pnmlToNet } from './pnml';
import { renderPetriNet } from './svg';
import { checkWorkflowNet } from './workflowNet';
import { parseXml } from './xml';

/** The file formats a model is read from and written to. */
export type ModelFormat = 'pnml' | 'bpmn';

const ROOTS: Record<string, ModelFormat> = { pnml: 'pnml', definitions: 'bpmn' };

/**
 * Reads a model file (PNML or BPMN, told by its root element unless `format` is given) into a
 * checked workflow net, or throws a `ModelError` that names what is wrong. Runs in a worker
 * thread (see src/threads/tasks.ts): a file of the largest size parses in about a second.
 */
export function readModel(input: { file: string; format?: ModelFormat }): { net: PetriNet; format: ModelFormat } {
  const size = fs.statSync(input.file).size;
  if (size > MODEL_LIMITS.maxBytes) {
    throw new ModelError('INVALID_MODEL_FILE', `The model file is larger than ${MODEL_LIMITS.maxBytes} bytes.`);
  }
  return readModelText(fs.readFileSync(input.file), input.format);
}

/** Reads model text as `readModel` reads a file. */
export function readModelText(text: string | Buffer, format?: ModelFormat): { net: PetriNet; format: ModelFormat } {
  const kind = format ? format.toUpperCase() : 'model';
  const root = parseXml(text, kind);
  const found = ROOTS[root.name];
  if (!found) {
    throw new ModelError(
      'INVALID_MODEL_FILE',
      `The root element is <${root.name}>: a model is PNML (<pnml>) or BPMN 2.0 (<definitions>).`,
    );
  }
  if (format && found !== format) {
    throw new ModelError(
      'INVALID_MODEL_FILE',
      `The file is ${found.toUpperCase()} (root <${root.name}>), not ${kind}.`,
    );
  }
  const net = found === 'pnml' ? pnmlToNet(root) : bpmnToNet(root);
  return { net: checkWorkflowNet(net).net, format: found };
}

/** Draws a net as SVG (see `renderPetriNet`); a task of its own, so that a slow drawing can be stopped. */
export function drawModel(input: { net: PetriNet }): Promise<string> {
  return renderPetriNet(input.net);
}
