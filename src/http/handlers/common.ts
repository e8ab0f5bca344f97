import type { PageRequest, Scope } from '../../domain/scope';
import type { RequestContext } from './index';

/** The tenant, project and calling key of a project-scoped request. */
export function scopeOf(ctx: RequestContext): Scope {
  if (!ctx.caller) throw new Error('scopeOf called on an operation without apiKey security');
  return {
    tenantId: ctx.params.tenantId.toLowerCase(),
    projectId: ctx.params.projectId.toLowerCase(),
    actor: ctx.caller.keyId,
  };
}

/** Paging from the query (validated and defaulted by the contract). */
export function pageOf(ctx: RequestContext): PageRequest {
  return { page: Number(ctx.query.page ?? 1), pageSize: Number(ctx.query.pageSize ?? 20) };
}

/** The URL of a resource on this service, for `Location` headers. */
export function location(publicUrl: string, path: string): Record<string, string> {
  return { Location: publicUrl + path };
}
