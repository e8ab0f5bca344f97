/**
 * What the handler of each operation receives and may answer, read from the contract's generated
 * types (generated/api.d.ts). `OperationHandlers` is the handler map's type: a missing handler, a
 * request read as the wrong type, or an answer the contract does not document fails to compile.
 */
import type { operations } from '../../api/types';
import type { Caller } from '../../domain/tenants';
import type { EmptyReply, JsonReply, RawReply } from '../reply';

/** Every operationId of the contract. */
export type OperationId = keyof operations;

/** A validated request of operation `K`, typed as the contract declares it. */
export interface OperationRequest<K extends OperationId> {
  /** GET, HEAD (routed to the GET operation), POST, ... */
  method: string;
  /** Path parameters; routing has lower-cased the UUIDs among them. */
  params: Declared<operations[K]['parameters']['path']>;
  /** Query parameters, coerced to their schema's types by validation. */
  query: Declared<operations[K]['parameters']['query']>;
  /** The JSON body or the multipart form's fields; `undefined` when there is none or it is optional. */
  body: BodyOf<operations[K]['requestBody']>;
  headers: Record<string, string | undefined>;
  /** The API key's tenant and id; absent on operations without `apiKey` security. */
  caller: Caller | undefined;
  file: Express.Multer.File | undefined;
  requestId: string;
}

/**
 * The answers operation `K` may give: for each status it documents, JSON of that status's
 * schema, or (where it documents a body) a raw answer with its own media type, or else no body.
 */
// A mapped type indexed by its own keys: the union of one reply type per documented status.
export type Answer<K extends OperationId> = {
  [S in keyof Responses<K>]: S extends number ? AnswerWith<S, Responses<K>[S]> : never;
}[keyof Responses<K>];

/** Unpacks a request, calls one domain function, picks the status. Nothing else. */
export type OperationHandler<K extends OperationId> = (req: OperationRequest<K>) => Promise<Answer<K>>;

/** One handler for every operation of the contract. */
export type OperationHandlers = { [K in OperationId]: OperationHandler<K> };

type Responses<K extends OperationId> = operations[K]['responses'];

// The generated types mark absent parts as `?: never`: those become an object with no fields.
type Declared<T> = [NonNullable<T>] extends [never] ? Record<never, never> : NonNullable<T>;

// `B` is a union when the body is optional (`{ content } | undefined`); the conditional maps each member.
type BodyOf<B> = B extends { content: infer C } ? C[keyof C] : undefined;

type AnswerWith<S extends number, R> = R extends { content: infer C }
  ? (C extends { 'application/json': infer B } ? JsonReply<S, B> : never) | RawReply<S>
  : EmptyReply<S>;
