import { InvalidError } from '../../domain/errors';
import type { PageRequest, Scope } from '../../domain/scope';
import type { Caller } from '../../domain/tenants';

/** The tenant, project and calling key of a project-scoped request. */
export function scopeOf(ctx: { params: { tenantId: string; projectId: string }; caller: Caller | undefined }): Scope {
  if (!ctx.caller) throw new Error('scopeOf called on an operation without apiKey security');
  return { tenantId: ctx.params.tenantId, projectId: ctx.params.projectId, actor: ctx.caller.keyId };
}

/** Paging from the query (validated by the contract; absent values take its defaults). */
export function pageOf(ctx: { query: { page?: number; pageSize?: number } }): PageRequest {
  return { page: ctx.query.page ?? 1, pageSize: ctx.query.pageSize ?? 20 };
}

/** The URL of a resource on this service, for `Location` headers. */
export function location(publicUrl: string, path: string): Record<string, string> {
  return { Location: publicUrl + path };
}

/** The file of a multipart upload, where the upload stage left it; 400 when the form has none. */
export function uploadedFile(
  ctx: { file: Express.Multer.File | undefined },
  what: string,
): { path: string; originalName: string; size: number } {
  if (!ctx.file)
    throw new InvalidError('VALIDATION_FAILED', `Send ${what} as the \`file\` field.`, [
      { field: 'body.file', message: 'is required' },
    ]);
  return { path: ctx.file.path, originalName: ctx.file.originalname, size: ctx.file.size };
}
