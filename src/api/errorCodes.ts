/**
 * Every error code the API answers, in one place: the `Code` of an error body, with the HTTP status
 * it goes with, the body's `Error` summary, and what it means. The contract's `ErrorResponse.Code`
 * lists the same codes (a test keeps them equal), so clients can match on a code instead of a text.
 *
 * A code is stable once released: rename the summary or the meaning if needed, never the code.
 */
export const ERROR_CODES = {
  // 400: the request cannot be carried out as sent.
  VALIDATION_FAILED: {
    status: 400,
    error: 'Validation failed',
    meaning: 'A field of the request breaks the contract or a rule; `ValidationErrors` lists every invalid field.',
  },
  MALFORMED_JSON: { status: 400, error: 'Malformed JSON', meaning: 'The request body is not valid JSON.' },
  UNSUPPORTED_BODY_ENCODING: {
    status: 400,
    error: 'Unsupported body encoding',
    meaning: 'The body is sent in a `Content-Encoding` or charset the server does not read.',
  },
  MALFORMED_COMPRESSED_BODY: {
    status: 400,
    error: 'Malformed compressed body',
    meaning: 'The body says it is compressed but cannot be decompressed.',
  },
  UNREADABLE_BODY: {
    status: 400,
    error: 'Unreadable body',
    meaning: 'The body could not be read to its end (aborted, or not as long as `Content-Length` says).',
  },
  INVALID_UPLOAD: { status: 400, error: 'Invalid upload', meaning: 'The multipart body could not be read.' },
  UNSUPPORTED_FILE: {
    status: 400,
    error: 'Unsupported file',
    meaning: 'An uploaded event log is neither CSV, XES nor gzipped XES.',
  },
  INVALID_CSV_FILE: { status: 400, error: 'Invalid CSV file', meaning: 'An uploaded CSV log cannot be read.' },
  INVALID_XES_FILE: {
    status: 400,
    error: 'Invalid XES file',
    meaning: 'An uploaded XES log is not well-formed XML, or declares a DTD or entities.',
  },
  EMPTY_EVENT_LOG: {
    status: 400,
    error: 'Empty event log',
    meaning: 'No event of the log has a case, an activity and a readable timestamp.',
  },
  CASE_TOO_LONG: {
    status: 400,
    error: 'Case too long',
    meaning: 'One case of the log has more events than the per-case limit.',
  },
  TOO_MANY_ATTRIBUTES: {
    status: 400,
    error: 'Too many attributes',
    meaning: 'The log has more attribute columns or keys than the limit.',
  },
  TOO_MANY_ACTIVITIES: {
    status: 400,
    error: 'Too many activities',
    meaning: 'The log has more distinct activities than the limit.',
  },
  RECORD_TOO_LARGE: {
    status: 400,
    error: 'Record too large',
    meaning: 'The attributes of one XES event or trace are larger than the per-record limit.',
  },
  LINE_TOO_LONG: { status: 400, error: 'Line too long', meaning: 'One CSV line is longer than the per-record limit.' },
  DUPLICATE_COLUMN_NAMES: {
    status: 400,
    error: 'Duplicate column names',
    meaning: 'Two CSV columns have the same name.',
  },
  ATTRIBUTE_NAMES_DIFFER_ONLY_IN_CASE: {
    status: 400,
    error: 'Attribute names differ only in case',
    meaning:
      'Two attribute names of the log differ only in upper and lower case, which the analysis cannot tell apart.',
  },
  LOG_TOO_DEMANDING: {
    status: 400,
    error: 'File too demanding',
    meaning: 'Parsing the upload needed more memory than a parser thread may use.',
  },
  LOG_TOO_LARGE: {
    status: 400,
    error: 'Log too large',
    meaning: 'Importing the log needed more memory than the analysis engine may use, also spilling to disk.',
  },
  INVALID_NOTEBOOK_FILE: {
    status: 400,
    error: 'Invalid notebook file',
    meaning: 'An uploaded `.ipynb` is not a valid nbformat 4 notebook, or is over the notebook limits.',
  },
  KERNEL_NOT_AVAILABLE: {
    status: 400,
    error: 'Kernel not available',
    meaning: 'The notebook names a kernelspec this server does not have; `Available` lists the ones it has.',
  },
  UNKNOWN_TEMPLATE: { status: 400, error: 'Unknown template', meaning: 'There is no Jupyter template of that name.' },
  NOT_A_JUPYTER_NOTEBOOK: {
    status: 400,
    error: 'Not a Jupyter notebook',
    meaning: 'The operation needs a Jupyter notebook, and this one is a standard notebook.',
  },
  NOT_A_STANDARD_NOTEBOOK: {
    status: 400,
    error: 'Not a standard notebook',
    meaning: 'Blocks belong to standard notebooks, and this one is a Jupyter notebook.',
  },
  NOTEBOOK_NAME_TAKEN: {
    status: 400,
    error: 'Failed to create notebook. The name may already exist in this investigation.',
    meaning: 'Another notebook of the investigation has this name (compared without case).',
  },
  // 401 and 403: who is calling.
  INVALID_MODEL_FILE: {
    status: 400,
    error: 'Invalid model file',
    meaning:
      'An uploaded process model is not well-formed PNML or BPMN XML, declares a DTD or entities, or is over the model limits.',
  },
  UNSUPPORTED_MODEL_ELEMENT: {
    status: 400,
    error: 'Unsupported model element',
    meaning: 'An uploaded process model uses an element that is not translated to a Petri net; the message names it.',
  },
  NOT_A_WORKFLOW_NET: {
    status: 400,
    error: 'Not a workflow net',
    meaning:
      'An uploaded process model is not a workflow net (one source place, one sink place, every node on a path between them).',
  },
  API_KEY_MISSING: {
    status: 401,
    error: 'Unauthorized',
    meaning: 'The request has no `Authorization: Bearer` key.',
  },
  API_KEY_INVALID: { status: 401, error: 'Unauthorized', meaning: 'The API key is unknown or revoked.' },
  SHARE_LINK_INVALID: {
    status: 401,
    error: 'Unauthorized',
    meaning: 'The read-only link is unknown, has expired or was revoked, or its notebook was deleted.',
  },
  STREAM_TICKET_INVALID: {
    status: 401,
    error: 'Unauthorized',
    meaning: 'The stream ticket is unknown, has expired, its key was revoked, or it was made for another stream.',
  },
  ADMIN_TOKEN_REQUIRED: {
    status: 401,
    error: 'Unauthorized',
    meaning: 'An admin operation is called without the admin token.',
  },
  METRICS_TOKEN_REQUIRED: {
    status: 401,
    error: 'Unauthorized',
    meaning:
      '`GET /metrics` is called without the metrics token, or with another one, while the server sets `METRICS_TOKEN`.',
  },
  TENANT_FORBIDDEN: {
    status: 403,
    error: 'Forbidden',
    meaning: 'The API key belongs to another tenant than the one in the path.',
  },
  METRICS_LOOPBACK_ONLY: {
    status: 403,
    error: 'Forbidden',
    meaning: '`GET /metrics` is called from another machine while the server sets no `METRICS_TOKEN`.',
  },
  // 404: nothing of that id in this tenant and project.
  ROUTE_NOT_FOUND: { status: 404, error: 'Route not found', meaning: 'No operation answers this method and path.' },
  TENANT_NOT_FOUND: { status: 404, error: 'Tenant not found', meaning: 'No tenant has this id.' },
  PROJECT_NOT_FOUND: { status: 404, error: 'Project not found', meaning: 'The tenant has no project of this id.' },
  INVESTIGATION_NOT_FOUND: {
    status: 404,
    error: 'Investigation not found',
    meaning: 'The project has no investigation of this id.',
  },
  PIPELINE_NOT_FOUND: {
    status: 404,
    error: 'Pipeline not found',
    meaning: 'A job names a pipeline (an investigation) the project does not have.',
  },
  DATASET_NOT_FOUND: { status: 404, error: 'Dataset not found', meaning: 'The project has no dataset of this id.' },
  NOTEBOOK_NOT_FOUND: { status: 404, error: 'Notebook not found', meaning: 'The project has no notebook of this id.' },
  BLOCK_NOT_FOUND: { status: 404, error: 'Block not found', meaning: 'The project has no block of this id.' },
  EXECUTION_NOT_FOUND: {
    status: 404,
    error: 'Execution not found',
    meaning: 'The notebook has no execution of this id.',
  },
  JOB_NOT_FOUND: { status: 404, error: 'Job not found', meaning: 'The project has no job of this id.' },
  TEMPLATE_NOT_FOUND: { status: 404, error: 'Template not found', meaning: 'There is no template of this id.' },
  ARTIFACT_NOT_FOUND: {
    status: 404,
    error: 'Artifact not found',
    meaning: 'The project has no output file of this id (or its execution was deleted).',
  },
  MODEL_NOT_FOUND: { status: 404, error: 'Model not found', meaning: 'The project has no model of this id.' },
  SHARE_LINK_NOT_FOUND: {
    status: 404,
    error: 'Share link not found',
    meaning: 'The notebook has no read-only link of this id.',
  },
  API_KEY_NOT_FOUND: { status: 404, error: 'API key not found', meaning: 'The tenant has no API key of this id.' },
  // 405
  METHOD_NOT_ALLOWED: {
    status: 405,
    error: 'Method not allowed',
    meaning: 'The path exists, but not for this method; the `Allow` header lists the ones it answers.',
  },
  // 409: the resource's state does not allow it now.
  STALE_UPDATE: {
    status: 409,
    error: 'CONFLICT',
    meaning: 'The resource changed since the `dateModified` the client sent; fetch it again and reapply the change.',
  },
  NOTEBOOK_LOCKED: {
    status: 409,
    error: 'Notebook is executing',
    meaning: 'The notebook is running; cancel its execution or wait for it to finish.',
  },
  EXECUTION_NOT_FINISHED: {
    status: 409,
    error: 'Execution has not finished',
    meaning: 'Results exist once the execution is Completed, Error or Cancelled.',
  },
  JOB_NOT_FINISHED: {
    status: 409,
    error: 'Job has not finished',
    meaning: 'Results exist once the job is Completed, Failed or Cancelled.',
  },
  JOB_FINISHED: {
    status: 409,
    error: 'Job has finished',
    meaning: 'A job that has ended cannot be cancelled.',
  },
  JOB_NOT_RETRYABLE: {
    status: 409,
    error: 'Job cannot be retried',
    meaning: 'Only a Failed or Cancelled job can be retried.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    error: 'Idempotency key reused',
    meaning: 'The `Idempotency-Key` was used before with another request body.',
  },
  PROJECT_HAS_ACTIVE_JOBS: {
    status: 409,
    error: 'Project has active jobs',
    meaning: 'A project with queued or running jobs cannot be deleted.',
  },
  DATASET_IN_USE: {
    status: 409,
    error: 'Dataset in use',
    meaning: 'A notebook or investigation is bound to the dataset, so it cannot be deleted.',
  },
  DATASET_NOT_READY: {
    status: 409,
    error: 'Dataset not ready',
    meaning: 'Only a Ready dataset can be exported.',
  },
  // 413
  PAYLOAD_TOO_LARGE: {
    status: 413,
    error: 'Payload too large',
    meaning: 'The body or upload is larger than the server accepts; `LimitBytes` says how large it may be.',
  },
  STORAGE_QUOTA_EXCEEDED: {
    status: 413,
    error: 'Storage quota exceeded',
    meaning: 'Storing the upload would take the tenant past its stored-bytes quota; nothing was stored.',
  },
  // 416
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    error: 'Range not satisfiable',
    meaning: 'The `Range` asked for starts after the end of the file.',
  },
  // 429: try again later (`Retry-After`).
  QUEUED_JOBS_QUOTA_EXCEEDED: {
    status: 429,
    error: 'Quota exceeded',
    meaning: 'The tenant has as many jobs waiting as it may; retry once some have started.',
  },
  KERNEL_QUOTA_EXCEEDED: {
    status: 429,
    error: 'Quota exceeded',
    meaning: 'The tenant has as many notebook executions queued or running as it may have kernels.',
  },
  TOO_MANY_STREAMS: {
    status: 429,
    error: 'Too many streams',
    meaning: 'The API key has as many event streams open as it may (`STREAMS_PER_KEY`); close one first.',
  },
  // 5xx: the server's side.
  INTERNAL_ERROR: {
    status: 500,
    error: 'Internal server error',
    meaning: 'The server failed; the server log has the details under the `RequestId`.',
  },
  CONTRACT_DRIFT: {
    status: 500,
    error: 'Contract drift',
    meaning: 'The server was about to answer something its contract does not document, and answered this instead.',
  },
  NOT_READY: {
    status: 503,
    error: 'Not ready',
    meaning: 'A dependency (store, queue, kernels) failed its check; `Checks` says which.',
  },
} as const satisfies Record<string, { status: number; error: string; meaning: string }>;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP status a code is answered with. */
export type StatusOf<C extends ErrorCode> = (typeof ERROR_CODES)[C]['status'];

/** The codes answered with status `S`, so that, say, a 409 error can only carry a 409 code. */
export type CodeWithStatus<S extends number> = { [C in ErrorCode]: StatusOf<C> extends S ? C : never }[ErrorCode];
