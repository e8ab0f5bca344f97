import { Router, type RoutableOperation } from '../../src/http/router';

// A few paths shaped like the contract's: literals beside parameters, HEAD through GET.
const operations: RoutableOperation[] = [
  { operationId: 'getHealth', method: 'get', path: '/health' },
  { operationId: 'listNotebooks', method: 'get', path: '/api/{tenantId}/{projectId}/notebook' },
  { operationId: 'createNotebook', method: 'post', path: '/api/{tenantId}/{projectId}/notebook' },
  { operationId: 'uploadNotebook', method: 'post', path: '/api/{tenantId}/{projectId}/notebook/upload' },
  { operationId: 'getNotebook', method: 'get', path: '/api/{tenantId}/{projectId}/notebook/{notebookId}' },
  { operationId: 'deleteNotebook', method: 'delete', path: '/api/{tenantId}/{projectId}/notebook/{notebookId}' },
  { operationId: 'copyNotebook', method: 'post', path: '/api/{tenantId}/{projectId}/notebook/{notebookId}/copy' },
  { operationId: 'getTemplates', method: 'get', path: '/api/{tenantId}/{projectId}/notebook/templates' },
];
const router = new Router(operations);

const P = '/api/t1/p1/notebook';

describe('Router.match: an operation and its path parameters', () => {
  test.each<{ name: string; given: [string, string]; want: { operationId: string; params: Record<string, string> } }>([
    { name: 'a literal path', given: ['GET', '/health'], want: { operationId: 'getHealth', params: {} } },
    {
      name: 'parameters are named by the path template',
      given: ['GET', `${P}/nb-7`],
      want: { operationId: 'getNotebook', params: { tenantId: 't1', projectId: 'p1', notebookId: 'nb-7' } },
    },
    {
      name: 'the method picks among operations of one path',
      given: ['DELETE', `${P}/nb-7`],
      want: { operationId: 'deleteNotebook', params: { tenantId: 't1', projectId: 'p1', notebookId: 'nb-7' } },
    },
    {
      name: 'methods are matched whatever their case',
      given: ['get', `${P}/nb-7`],
      want: { operationId: 'getNotebook', params: { tenantId: 't1', projectId: 'p1', notebookId: 'nb-7' } },
    },
    {
      name: 'HEAD is answered by the GET operation',
      given: ['HEAD', `${P}/nb-7`],
      want: { operationId: 'getNotebook', params: { tenantId: 't1', projectId: 'p1', notebookId: 'nb-7' } },
    },
    {
      name: 'a literal segment wins over a parameter',
      given: ['GET', `${P}/templates`],
      want: { operationId: 'getTemplates', params: { tenantId: 't1', projectId: 'p1' } },
    },
    {
      name: 'a literal that leads nowhere falls back to the parameter',
      given: ['POST', `${P}/upload/copy`],
      want: { operationId: 'copyNotebook', params: { tenantId: 't1', projectId: 'p1', notebookId: 'upload' } },
    },
    {
      name: 'one trailing slash is ignored',
      given: ['GET', `${P}/nb-7/`],
      want: { operationId: 'getNotebook', params: { tenantId: 't1', projectId: 'p1', notebookId: 'nb-7' } },
    },
    {
      name: 'parameters are percent-decoded',
      given: ['GET', `${P}/a%20b%2Fc%C3%A9`],
      want: { operationId: 'getNotebook', params: { tenantId: 't1', projectId: 'p1', notebookId: 'a b/cé' } },
    },
  ])('$name', ({ given, want }) => {
    const match = router.match(...given);
    expect(match.kind).toBe('found');
    if (match.kind !== 'found') return;
    expect({ operationId: match.operation.operationId, params: match.params }).toEqual(want);
    expect(match.malformed).toEqual([]);
  });
});

describe('Router.match: no operation (404) or not this method (405)', () => {
  test.each<{ name: string; given: [string, string]; want: ReturnType<typeof router.match> }>([
    { name: 'an unknown path', given: ['GET', '/nothing'], want: { kind: 'notFound' } },
    { name: 'the root', given: ['GET', '/'], want: { kind: 'notFound' } },
    { name: 'a path longer than any operation', given: ['GET', `${P}/nb-7/copy/more`], want: { kind: 'notFound' } },
    { name: 'a path that stops between operations', given: ['GET', '/api/t1/p1'], want: { kind: 'notFound' } },
    { name: 'an empty segment never fills a parameter', given: ['GET', `${P}//copy`], want: { kind: 'notFound' } },
    { name: 'two trailing slashes are an empty segment', given: ['GET', `${P}/nb-7//`], want: { kind: 'notFound' } },
    {
      name: 'a known path without the method lists the allowed ones, HEAD after GET',
      given: ['PUT', `${P}/nb-7`],
      want: { kind: 'methodNotAllowed', allowed: ['GET', 'HEAD', 'DELETE'] },
    },
    {
      name: 'a POST-only path allows POST alone',
      given: ['GET', `${P}/nb-7/copy`],
      want: { kind: 'methodNotAllowed', allowed: ['POST'] },
    },
    {
      name: 'a literal path answers for its own methods, not for the parameter beside it',
      given: ['GET', `${P}/upload`],
      want: { kind: 'methodNotAllowed', allowed: ['POST'] },
    },
    {
      name: 'HEAD is not allowed where there is no GET',
      given: ['HEAD', `${P}/nb-7/copy`],
      want: { kind: 'methodNotAllowed', allowed: ['POST'] },
    },
  ])('$name', ({ given, want }) => {
    expect(router.match(...given)).toEqual(want);
  });
});

describe('Router.match: percent-encoding that is not UTF-8', () => {
  test.each<{ name: string; given: string; want: { params: Record<string, string>; malformed: string[] } }>([
    {
      name: 'a lone surrogate (%ED%A0%80) is named and kept as sent',
      given: `${P}/%ED%A0%80`,
      want: { params: { tenantId: 't1', projectId: 'p1', notebookId: '%ED%A0%80' }, malformed: ['notebookId'] },
    },
    {
      name: 'a truncated sequence (%C3) is named',
      given: `${P}/%C3`,
      want: { params: { tenantId: 't1', projectId: 'p1', notebookId: '%C3' }, malformed: ['notebookId'] },
    },
    {
      name: 'a percent sign without hex digits (%zz) is named',
      given: `${P}/100%zz`,
      want: { params: { tenantId: 't1', projectId: 'p1', notebookId: '100%zz' }, malformed: ['notebookId'] },
    },
    {
      name: 'every malformed parameter is named',
      given: `/api/%FF/p1/notebook/%E0%80`,
      want: {
        params: { tenantId: '%FF', projectId: 'p1', notebookId: '%E0%80' },
        malformed: ['notebookId', 'tenantId'],
      },
    },
  ])('$name', ({ given, want }) => {
    const match = router.match('GET', given);
    expect(match.kind).toBe('found');
    if (match.kind !== 'found') return;
    expect({ params: match.params, malformed: match.malformed }).toEqual(want);
  });
});

describe('new Router: the paths of the document', () => {
  test.each<{ name: string; given: RoutableOperation[]; want: string | null }>([
    {
      name: 'two names for one parameter place are refused',
      given: [
        { method: 'get', path: '/a/{id}' },
        { method: 'get', path: '/a/{name}/b' },
      ],
      want: 'Path /a/{name}/b: parameter {name} clashes with {id} at the same place',
    },
    {
      name: 'the same parameter name under several operations is fine',
      given: [
        { method: 'get', path: '/a/{id}' },
        { method: 'post', path: '/a/{id}/b' },
      ],
      want: null,
    },
  ])('$name', ({ given, want }) => {
    if (want === null) expect(() => new Router(given)).not.toThrow();
    else expect(() => new Router(given)).toThrow(want);
  });
});
