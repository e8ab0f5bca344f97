import { doc, firstExample, isObject, Json, operations, pointer, resolve } from '../support/openapi';

/**
 * The examples tell one story: the ids an operation's example answers with are the ids the next
 * operation of a user's flow is called with (its path parameters' examples) and answers with, from
 * the uploaded dataset to the results of its notebook's execution. The first example of each is
 * the one that counts: it is what Prism's mock answers, and what the request samples send.
 */

const ops = new Map(operations().map((o) => [String(o.op.operationId), o]));

/** The first example of an operation's request body, or of its answer with `status`. */
function example(operationId: string, part: 'request' | number): unknown {
  const operation = ops.get(operationId);
  if (!operation) throw new Error(`no operation ${operationId}`);
  let holder: { node: Json; ptr: string };
  if (part === 'request') {
    holder = resolve(operation.op.requestBody as Json, pointer(operation.ptr, 'requestBody'));
  } else {
    const responses = operation.op.responses as Json;
    holder = resolve(responses[String(part)] as Json, pointer(operation.ptr, 'responses', String(part)));
  }
  const content = holder.node.content as Json;
  const [mediaType] = Object.keys(content);
  const found = firstExample(content[mediaType] as Json, pointer(holder.ptr, 'content', mediaType));
  if (!found.found) throw new Error(`${operationId} ${part} has no example`);
  return found.value;
}

/** The example of a path parameter (the same on every operation that takes it). */
function param(name: string): unknown {
  const values = new Set(
    [...ops.values()].flatMap((o) =>
      o.parameters.filter((p) => p.in === 'path' && p.name === name).map((p) => p.example),
    ),
  );
  if (values.size !== 1) throw new Error(`parameter ${name} has ${values.size} different examples`);
  return [...values][0];
}

/** The value at a path such as `datasets[0].datasetId` (`length` counts an array). */
function at(value: unknown, path: string): unknown {
  let node = value;
  for (const token of path.match(/[^.[\]]+/g) ?? []) {
    if (Array.isArray(node) && token === 'length') node = node.length;
    else node = isObject(node) || Array.isArray(node) ? (node as Json)[token] : undefined;
  }
  return node;
}

/** `'getDataset 200 datasetId'`, `'createInvestigation request datasetId'` or `'param datasetId'`. */
function value(place: string): unknown {
  const [first, second, path = ''] = place.split(' ');
  if (first === 'param') return param(second);
  const found = at(example(first, second === 'request' ? 'request' : Number(second)), path);
  if (found === undefined) throw new Error(`${place} is not in the example`);
  return found;
}

/** The artifact id of a download URL of this service. */
function artifactOf(place: string): string {
  const url = String(value(place));
  const match = /\/api\/([^/]+)\/([^/]+)\/artifact\/([^/]+)$/.exec(url);
  if (!match) throw new Error(`${place} is not an artifact URL: ${url}`);
  expect([match[1], match[2]]).toEqual([param('tenantId'), param('projectId')]);
  return match[3];
}

// given: where a user reads a value; want: where the next step uses it.
const links: { given: string; want: string }[] = [
  // The tenant, its first project and key.
  { given: 'createTenant 201 tenantId', want: 'param tenantId' },
  { given: 'createTenant 201 project.projectId', want: 'param projectId' },
  { given: 'createTenant 201 apiKey.keyId', want: 'param keyId' },
  { given: 'listApiKeys 200 keys[0].keyId', want: 'param keyId' },
  { given: 'listProjects 200 projects[0].projectId', want: 'param projectId' },
  // Datasets: upload, list, get.
  { given: 'uploadDataset 201 datasetId', want: 'param datasetId' },
  { given: 'listDatasets 200 datasets[0].datasetId', want: 'param datasetId' },
  { given: 'getDataset 200 datasetId', want: 'param datasetId' },
  // An investigation on the dataset.
  { given: 'getDataset 200 datasetId', want: 'createInvestigation request datasetId' },
  { given: 'createInvestigation 201 investigationId', want: 'param investigationId' },
  { given: 'createInvestigation 201 datasetId', want: 'param datasetId' },
  { given: 'listInvestigations 200 investigations[0].investigationId', want: 'param investigationId' },
  { given: 'getInvestigation 200 investigationId', want: 'param investigationId' },
  { given: 'getInvestigation 200 datasetId', want: 'param datasetId' },
  // A notebook in the investigation.
  { given: 'createInvestigationNotebook 201 notebookId', want: 'param notebookId' },
  { given: 'createInvestigationNotebook 201 investigationId', want: 'param investigationId' },
  { given: 'createInvestigationNotebook request name', want: 'getNotebook 200 name' },
  { given: 'listInvestigationNotebooks 200 [0].notebookId', want: 'param notebookId' },
  { given: 'getNotebook 200 notebookId', want: 'param notebookId' },
  { given: 'getNotebook 200 investigationId', want: 'param investigationId' },
  { given: 'getNotebook 200 dateModified', want: 'updateNotebook request dateModified' },
  { given: 'getNotebookUrl 200 notebookId', want: 'param notebookId' },
  { given: 'listTemplates 200 templates[0].templateId', want: 'createNotebookFromTemplate request templateId' },
  // Its blocks.
  { given: 'createBlock 201 blockId', want: 'param blockId' },
  { given: 'createBlock 201 notebookId', want: 'param notebookId' },
  { given: 'listBlocks 200 [0].blockId', want: 'param blockId' },
  { given: 'listBlocks 200 [0].notebookId', want: 'param notebookId' },
  { given: 'listBlocks 200 [1].notebookId', want: 'param notebookId' },
  { given: 'listBlocks 200 length', want: 'getNotebook 200 blockCount' },
  { given: 'getBlock 200 blockId', want: 'param blockId' },
  { given: 'getBlock 200 notebookId', want: 'param notebookId' },
  // Its execution, the execution's status and its results.
  { given: 'executeNotebook 202 notebookId', want: 'param notebookId' },
  { given: 'executeNotebook 202 executionId', want: 'param executionId' },
  { given: 'executeNotebook 202 progress.totalCells', want: 'listBlocks 200 length' },
  { given: 'getNotebookExecution 200 executionId', want: 'param executionId' },
  { given: 'getNotebookExecution 200 notebookId', want: 'param notebookId' },
  { given: 'getNotebookExecution 200 jobId', want: 'executeNotebook 202 jobId' },
  { given: 'getNotebookExecution 200 progress.totalCells', want: 'listBlocks 200 length' },
  { given: 'getNotebookExecution 200 cellResults[0].cellId', want: 'listBlocks 200 [0].blockId' },
  { given: 'getNotebookExecution 200 cellResults[1].cellId', want: 'listBlocks 200 [1].blockId' },
  { given: 'getExecutionResults 200 executionId', want: 'param executionId' },
  { given: 'getExecutionResults 200 outputs[0].cellId', want: 'listBlocks 200 [1].blockId' },
  // A job: submit, status, list, cancel, results, retry.
  { given: 'submitJob request resource.resourceId', want: 'param investigationId' },
  { given: 'submitJob request parameters.datasetId', want: 'param datasetId' },
  { given: 'submitJob 202 jobId', want: 'param jobId' },
  { given: 'getJob 200 jobId', want: 'param jobId' },
  { given: 'getJob 200 resource.resourceId', want: 'submitJob request resource.resourceId' },
  { given: 'getJob 200 jobName', want: 'submitJob request jobName' },
  { given: 'listJobs 200 jobs[0].jobId', want: 'param jobId' },
  { given: 'cancelJob 200 jobId', want: 'param jobId' },
  { given: 'getJobResults 200 jobId', want: 'param jobId' },
  { given: 'retryJob 200 retryOf', want: 'param jobId' },
];

describe("an operation's example carries the ids the next step uses", () => {
  test.each(links)('$given is $want', ({ given, want }) => {
    expect(value(given)).toEqual(value(want));
  });

  test('the first download of the execution results is the artifact example', () => {
    expect(artifactOf('getExecutionResults 200 outputs[1].downloadUrl')).toBe(param('artifactId'));
  });
});

/** Every text under a key of these names anywhere in the document: in examples, that is. */
function fieldsNamed(names: string[]): { place: string; value: string }[] {
  const found: { place: string; value: string }[] = [];
  const walk = (node: unknown, place: string) => {
    if (Array.isArray(node)) return node.forEach((child, i) => walk(child, `${place}[${i}]`));
    if (!isObject(node)) return;
    for (const [key, child] of Object.entries(node)) {
      if (names.includes(key) && typeof child === 'string') found.push({ place: `${place}.${key}`, value: child });
      walk(child, `${place}.${key}`);
    }
  };
  walk(doc, '#');
  return found;
}

describe('every example belongs to the same tenant, project and key', () => {
  test("tenantId and projectId fields are the path parameters' examples", () => {
    const wrong = fieldsNamed(['tenantId', 'projectId']).filter(
      (f) => f.value !== param(f.place.endsWith('tenantId') ? 'tenantId' : 'projectId'),
    );
    expect(wrong).toEqual([]);
  });

  test('createdBy, modifiedBy and submittedBy name the API key (or the admin token, or the scheduler)', () => {
    const wrong = fieldsNamed(['createdBy', 'modifiedBy', 'submittedBy']).filter(
      (f) => ![param('keyId'), 'admin', 'system'].includes(f.value),
    );
    expect(wrong).toEqual([]);
  });
});
