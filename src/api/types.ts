/**
 * The contract's schemas under short names. Every request and response type comes from
 * generated/api.d.ts (written by openapi-typescript from openapi/); none is written by hand.
 */
import type { components, operations } from '../../generated/api';

type Schemas = components['schemas'];

export type { operations };
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreate = Schemas['ApiKeyCreate'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type Block = Schemas['Block'];
export type BlockCreate = Schemas['BlockCreate'];
export type BlockUpdate = Schemas['BlockUpdate'];
export type BlockConfiguration = Schemas['BlockConfiguration'];
export type Dataset = Schemas['Dataset'];
export type DatasetUpload = Schemas['DatasetUpload'];
export type ErrorResponse = Schemas['ErrorResponse'];
export type Model = Schemas['Model'];
export type ModelUpload = Schemas['ModelUpload'];
export type CellResult = Schemas['CellResult'];
export type ExecutionOutput = Schemas['ExecutionOutput'];
export type ExecutionResults = Schemas['ExecutionResults'];
export type Investigation = Schemas['Investigation'];
export type InvestigationCreate = Schemas['InvestigationCreate'];
export type InvestigationUpdate = Schemas['InvestigationUpdate'];
export type Job = Schemas['Job'];
export type JobCancel = Schemas['JobCancel'];
export type JobList = Schemas['JobList'];
export type JobResults = Schemas['JobResults'];
export type JobRetry = Schemas['JobRetry'];
export type JobSubmit = Schemas['JobSubmit'];
export type JobSubmitted = Schemas['JobSubmitted'];
export type SystemStatus = Schemas['SystemStatus'];
export type JupyterNotebook = Schemas['JupyterNotebook'];
export type JupyterNotebookCreate = Schemas['JupyterNotebookCreate'];
export type JupyterNotebookUpdate = Schemas['JupyterNotebookUpdate'];
export type Notebook = Schemas['Notebook'];
export type NotebookCopy = Schemas['NotebookCopy'];
export type NotebookExecuteRequest = Schemas['NotebookExecuteRequest'];
export type NotebookExecution = Schemas['NotebookExecution'];
export type NotebookFromTemplate = Schemas['NotebookFromTemplate'];
export type NotebookSummary = Schemas['NotebookSummary'];
export type NotebookUrl = Schemas['NotebookUrl'];
export type NotebookPage = Schemas['NotebookPage'];
export type Project = Schemas['Project'];
export type ProjectCreate = Schemas['ProjectCreate'];
export type StandardNotebook = Schemas['StandardNotebook'];
export type StandardNotebookCreate = Schemas['StandardNotebookCreate'];
export type StandardNotebookUpdate = Schemas['StandardNotebookUpdate'];
export type Template = Schemas['Template'];
export type TenantCreate = Schemas['TenantCreate'];
export type TenantCreated = Schemas['TenantCreated'];
