/**
 * Compile-time checks of the handler map's type (src/http/handlers/types.ts), run by
 * `npm run typecheck`, not by jest: each `@ts-expect-error` fails the typecheck if the line
 * below it compiles, that is if the contract stopped catching that mistake.
 */
import type { Project, ProjectCreate } from '../../src/api/types';
import type { OperationHandler, OperationHandlers } from '../../src/http/handlers/types';
import { empty, json, text } from '../../src/http/reply';

declare const project: Project;

// A documented status with its schema's body compiles; so does 204 without a body.
export const getProject: OperationHandler<'getProject'> = async () => json(200, project);
export const deleteProject: OperationHandler<'deleteProject'> = async () => empty();

// @ts-expect-error getProject does not document 201
export const undocumentedStatus: OperationHandler<'getProject'> = async () => json(201, project);

// @ts-expect-error the 200 of getProject is a Project, not a page of them
export const wrongBody: OperationHandler<'getProject'> = async () => json(200, { projects: [project] });

// @ts-expect-error getProject answers JSON, never nothing
export const missingBody: OperationHandler<'getProject'> = async () => ({ status: 200 });

// @ts-expect-error deleteProject has no 200 to send text with
export const textOnJson: OperationHandler<'deleteProject'> = async () => text(200, 'deleted');

// The request is typed per operation: body, path parameters and query.
export const createProject: OperationHandler<'createProject'> = async (ctx) => {
  const body: ProjectCreate = ctx.body;
  const tenantId: string = ctx.params.tenantId;
  // @ts-expect-error createProject has no `projectId` in its path
  void ctx.params.projectId;
  // @ts-expect-error a ProjectCreate has no `tenantName`
  void ctx.body.tenantName;
  // @ts-expect-error createProject declares no query parameters
  const page: number = ctx.query.page;
  return json(201, { ...project, name: body.name, tenantId, page });
};

export const listProjects: OperationHandler<'listProjects'> = async (ctx) => {
  // Query parameters arrive coerced to their schema's types.
  const page: number | undefined = ctx.query.page;
  // @ts-expect-error pageSize is a number, not text
  const size: string | undefined = ctx.query.pageSize;
  return json(200, { projects: [project], totalCount: 1, page: page ?? 1, pageSize: Number(size), hasNextPage: false });
};

// A map that lacks one operation's handler does not compile.
declare const handlers: OperationHandlers;
const { getProject: _left, ...allButOne } = handlers;
// @ts-expect-error getProject is missing
export const incomplete: OperationHandlers = allButOne;

// A handler for an operation the contract does not have does not compile either.
export const unknownOperation = {
  // @ts-expect-error no operation is called getProjects
  getProjects: async () => json(200, project),
} satisfies Partial<OperationHandlers>;
