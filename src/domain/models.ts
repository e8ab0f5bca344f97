import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Model } from '../api/types';
import type { ModelPort } from '../engine/models/analysis';
import { writeBpmn } from '../engine/models/bpmn';
import { MODEL_LIMITS, ModelError } from '../engine/models/modelError';
import type { ModelFormat } from '../engine/models/modelFile';
import { visibleActivities, type PetriNet } from '../engine/models/petriNet';
import { writePnml } from '../engine/models/pnml';
import { noteSvg } from '../engine/models/svg';
import { checkWorkflowNet } from '../engine/models/workflowNet';
import * as store from '../store/models';
import type { Db } from '../store/db';
import { runInThread, ThreadMemoryError, ThreadTimeoutError } from '../threads/pool';
import { InvalidError, NotFoundError } from './errors';
import { iso, pageInfo, type PageRequest, type Scope } from './scope';
import { reserveStorage } from './storage';

/**
 * How long drawing a model may take (Graphviz, in a worker thread): the SVG when it is stored, the
 * BPMN diagram layout when it is downloaded. A longer one is given up (a note, or BPMN without layout).
 */
export const DRAW_TIMEOUT_MS = 10_000;

/** Quota settings passed down from the configuration. */
export interface ModelStoreOptions {
  storageLimitBytes?: number;
}

/** The uploaded file, where the upload stage left it. */
export interface UploadedModelFile {
  path: string;
  originalName: string;
  size: number;
}

/** The optional fields of the upload form. */
export interface ModelForm {
  name?: string;
  format?: ModelFormat;
}

/**
 * Stores an uploaded model: reads it in a worker thread (PNML or BPMN, safely, as a checked
 * workflow net; see src/engine/models), draws it, and records the net, the file and the drawing.
 * A refused file answers 400 naming what is wrong, and nothing is kept.
 */
export async function uploadModel(
  db: Db,
  scope: Scope,
  file: UploadedModelFile,
  form: ModelForm,
  opts: ModelStoreOptions = {},
): Promise<Model> {
  if (file.size > MODEL_LIMITS.maxBytes) {
    throw refused(
      new ModelError('INVALID_MODEL_FILE', `The model file is larger than ${MODEL_LIMITS.maxBytes} bytes.`),
    );
  }
  let read: { net: PetriNet; format: ModelFormat };
  try {
    // The answer lane: a model parses in about a second at most, and must not wait behind a long log import.
    read = await runInThread('readModel', { file: file.path, format: form.format }, 'answer');
  } catch (err) {
    if (err instanceof ModelError) throw refused(err);
    if (err instanceof ThreadMemoryError) throw refused(new ModelError('INVALID_MODEL_FILE', err.message));
    throw err;
  }
  const originalName = safeFileName(file.originalName);
  return record(db, scope, opts, {
    net: read.net,
    name: form.name?.trim() || originalName.replace(/(\.model)?\.(pnml|bpmn|xml)$/i, '') || 'model',
    format: read.format,
    source: 'uploaded',
    original: fs.readFileSync(file.path),
    originalFileName: originalName,
  });
}

/**
 * Stores a model the service discovered (the `discovery` calculator): the net must be a workflow
 * net; its PNML is kept as its file. Returns the model as `GET .../model/{id}` shows it.
 */
export async function saveDiscoveredModel(
  db: Db,
  scope: Scope,
  net: PetriNet,
  name: string,
  opts: ModelStoreOptions = {},
): Promise<Model> {
  const checked = checkWorkflowNet(net).net;
  const original = Buffer.from(writePnml(checked, name));
  return record(db, scope, opts, {
    net: checked,
    name,
    format: 'pnml',
    source: 'discovered',
    original,
    originalFileName: null,
  });
}

async function record(
  db: Db,
  scope: Scope,
  opts: ModelStoreOptions,
  m: {
    net: PetriNet;
    name: string;
    format: ModelFormat;
    source: 'uploaded' | 'discovered';
    original: Buffer;
    originalFileName: string | null;
  },
): Promise<Model> {
  const svg = await draw(m.net);
  const netJson = JSON.stringify(m.net);
  const storedBytes = m.original.length + Buffer.byteLength(netJson) + Buffer.byteLength(svg);
  const activities = visibleActivities(m.net);
  const row = await db.transaction(async (tx) => {
    await reserveStorage(tx, scope.tenantId, storedBytes, opts.storageLimitBytes, 'this model');
    return store.insertModel(tx, {
      id: randomUUID(),
      project_id: scope.projectId,
      name: m.name.slice(0, 200),
      format: m.format,
      source: m.source,
      net: m.net,
      places: m.net.places.length,
      transitions: m.net.transitions.length,
      visible_transitions: m.net.transitions.filter((t) => t.label !== null).length,
      activities,
      original_file_name: m.originalFileName,
      original: m.original,
      svg,
      size_bytes: m.original.length,
      stored_bytes: storedBytes,
      created_by: scope.actor,
    });
  });
  return toModel(row);
}

/** The net's SVG, drawn in a worker thread; a drawing that takes too long or too much memory becomes a note. */
async function draw(net: PetriNet): Promise<string> {
  try {
    return await runInThread('drawModel', { net }, 'answer', { timeoutMs: DRAW_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof ThreadTimeoutError) {
      return noteSvg(`Drawing this model took longer than ${DRAW_TIMEOUT_MS / 1000} seconds and was given up.`);
    }
    if (err instanceof ThreadMemoryError) return noteSvg(`Drawing this model needed too much memory: ${err.message}`);
    throw err;
  }
}

/** Lists the project's models, newest first. */
export async function listModels(db: Db, scope: Scope, paging: PageRequest) {
  const { rows, count } = await store.modelsOf(
    db,
    scope.projectId,
    paging.pageSize,
    (paging.page - 1) * paging.pageSize,
  );
  return { models: rows.map(toModel), ...pageInfo(paging, count) };
}

/** A model of the project, or 404. */
export async function getModel(db: Db, scope: Scope, id: string): Promise<Model> {
  const row = await store.findModel(db, scope.projectId, id);
  if (!row) throw notFound(id);
  return toModel(row);
}

/** Deletes a model of the project, or 404. */
export async function deleteModel(db: Db, scope: Scope, id: string): Promise<void> {
  if (!(await store.deleteModel(db, scope.projectId, id))) throw notFound(id);
}

/** A model's file in a format: its own as stored, the other written from the net, or its drawing. */
export async function modelFile(
  db: Db,
  scope: Scope,
  id: string,
  format: ModelFormat | 'svg',
): Promise<{ body: Buffer; contentType: string; fileName: string }> {
  const row = await store.findModelFiles(db, scope.projectId, id);
  if (!row) throw notFound(id);
  const fileName = `${safeFileName(row.name).replace(/"/g, '_')}.${format}`;
  if (format === 'svg') return { body: Buffer.from(row.svg), contentType: 'image/svg+xml', fileName };
  if (format === row.format) return { body: Buffer.from(row.original), contentType: 'application/xml', fileName };
  const net = row.net as PetriNet;
  try {
    const text = format === 'pnml' ? writePnml(net, row.name) : await bpmnOf(net, row.name);
    return { body: Buffer.from(text), contentType: 'application/xml', fileName };
  } catch (err) {
    if (err instanceof ModelError) throw new InvalidError(err.code, err.message, [], { ModelId: id });
    throw err;
  }
}

/** The net as BPMN laid out by Graphviz in a worker thread; without diagram data when that takes too long. */
async function bpmnOf(net: PetriNet, name: string): Promise<string> {
  try {
    return await runInThread('writeBpmnLaidOut', { net, name }, 'answer', { timeoutMs: DRAW_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof ThreadTimeoutError || err instanceof ThreadMemoryError) return writeBpmn(net, name);
    throw err;
  }
}

function toModel(row: store.ModelRow): Model {
  return {
    modelId: row.id,
    projectId: row.project_id,
    name: row.name,
    format: row.format,
    source: row.source,
    places: row.places,
    transitions: row.transitions,
    visibleTransitions: row.visible_transitions,
    activities: row.activities,
    originalFileName: row.original_file_name,
    sizeBytes: row.size_bytes,
    dateCreated: iso(row.created_at),
    createdBy: row.created_by,
  };
}

function refused(err: ModelError): InvalidError {
  return new InvalidError(err.code, `${err.message.replace(/\.$/, '')}; nothing was stored.`, [
    { field: 'body.file', message: err.message },
  ]);
}

function notFound(id: string): NotFoundError {
  return new NotFoundError('MODEL_NOT_FOUND', 'ModelId', id);
}

function safeFileName(name: string): string {
  // The base name only, without control characters: it is shown and used in Content-Disposition.
  const printable = [...name.replace(/\\/g, '/')]
    .filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f)
    .join('');
  const base = path.basename(printable);
  return base.length > 0 && base !== '.' && base !== '..' ? base.slice(0, 255) : 'model';
}

/** The project's models as the engine's model blocks use them (conformance reads, discovery stores). */
export function projectModels(
  db: Db,
  scope: Scope,
  opts: ModelStoreOptions & { signal?: AbortSignal } = {},
): ModelPort {
  return {
    net: async (id) => {
      const row = await store.findModel(db, scope.projectId, id);
      if (!row) {
        const error = new Error(
          `The project has no model ${id}: upload one (POST .../model) or find one with a discovery block.`,
        );
        error.name = 'ModelNotFound';
        throw error;
      }
      return row.net as PetriNet;
    },
    saveDiscovered: async (net, name) => (await saveDiscoveredModel(db, scope, net, name, opts)).modelId,
    signal: opts.signal,
  };
}
