import { ERROR_CODES, type CodeWithStatus } from '../../api/errorCodes';

/** The error codes of a model file the engine refuses (a 400 of the upload). */
export type ModelRefusal = Extract<
  CodeWithStatus<400>,
  'INVALID_MODEL_FILE' | 'UNSUPPORTED_MODEL_ELEMENT' | 'NOT_A_WORKFLOW_NET'
>;

/**
 * Thrown when a process model (PNML, BPMN) cannot be read or used as it is: `code` names the kind
 * of problem, the message names what is wrong (the element, the id, the limit).
 */
export class ModelError extends Error {
  constructor(
    readonly code: ModelRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'ModelError';
  }

  /** The problem in words, the `Error` of the 400. */
  get summary(): string {
    return ERROR_CODES[this.code].error;
  }
}

/**
 * The bounds of a model file. They keep parsing, translating, checking and rendering a model
 * cheap whatever the file looks like; the contract's `uploadModel` lists them.
 */
export const MODEL_LIMITS = {
  /** Bytes of an uploaded model file (the shared BPMN models are under 50 KB). */
  maxBytes: 8 * 1024 * 1024,
  /** Nesting depth of XML elements (BPMN with diagram data nests about 6 deep). */
  maxDepth: 64,
  /** XML elements of one file, diagram and layout elements included. */
  maxElements: 200_000,
  /** Places and transitions of the Petri net (after translating BPMN). */
  maxNodes: 10_000,
  /** Arcs of the Petri net. */
  maxArcs: 50_000,
  /** Characters of one name (an activity, a place, a model). */
  maxNameChars: 1_000,
  /** The weight of one arc and the tokens of one place in a marking. */
  maxTokens: 1_000,
} as const;
