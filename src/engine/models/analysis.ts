import type { DuckDBConnection } from '@duckdb/node-api';
import type { ConformanceBelowAlertOutcome, ConformanceResult, DiscoveryResult } from '../../api/types';
import { runInThread } from '../../threads/pool';
import { rows } from '../duck';
import { casesOf, type Log } from '../log';
import { runConformance, type ConformanceResult as Alignments, type Variant } from './alignments';
import { visibleActivities, type PetriNet } from './petriNet';

/**
 * The process-model blocks: `discovery` and `conformance` calculators and the `conformanceBelow`
 * alert. They read the log's variants from DuckDB and hand them to the Inductive Miner and the
 * aligner; the models themselves come from and go to the project through a {@link ModelPort},
 * which the domain provides (the engine does not know the store).
 */
export interface ModelPort {
  /** The net of a model of the block's project; throws (not found) when there is none. */
  net(modelId: string): Promise<PetriNet>;
  /** Stores a discovered net as a model of the project and returns its id. */
  saveDiscovered(net: PetriNet, name: string): Promise<string>;
  /** A cancel or timeout of the run: it interrupts a long alignment. */
  signal?: AbortSignal;
}

/** The log's variants: one per distinct trace, with its case count. */
export async function logVariants(con: DuckDBConnection, log: Log): Promise<Variant[]> {
  const list = await rows(con, `SELECT trace, count(*) AS cases FROM ${await casesOf(con, log)} GROUP BY trace`);
  return list.map((r) => ({ activities: (r.trace as string[]).map(String), cases: Number(r.cases) }));
}

/** Discovers a model with the Inductive Miner, stores it, and measures the log's fitness on it. */
export async function discovery(
  con: DuckDBConnection,
  log: Log,
  c: { noiseThreshold?: number; modelName?: string },
  models: ModelPort,
): Promise<DiscoveryResult> {
  const noiseThreshold = c.noiseThreshold ?? 0;
  const variants = await logVariants(con, log);
  if (variants.length === 0) throw new Error('The log has no case left to discover a model from.');
  // In a worker thread: the miner's time grows with the cube of the activities (INDUCTIVE_LIMITS).
  const net = await runInThread('discoverNet', { variants, noiseThreshold }, 'import', { signal: models.signal });
  const fit = await runConformance(variants, net, { signal: models.signal });
  const name = c.modelName ?? `Inductive Miner (noise ${noiseThreshold}), ${new Date().toISOString()}`;
  const modelId = await models.saveDiscovered(net, name);
  return {
    calculatorType: 'discovery',
    modelId,
    algorithm: 'inductive',
    noiseThreshold,
    places: net.places.length,
    transitions: net.transitions.length,
    activities: visibleActivities(net),
    fitness: fit.averageTraceFitness,
  };
}

/** Optimal alignments of every variant of the log against a model of the project. */
export async function conformance(
  con: DuckDBConnection,
  log: Log,
  c: { modelId: string; limit?: number },
  models: ModelPort,
): Promise<ConformanceResult> {
  const result = await align(con, log, c.modelId, models);
  return {
    calculatorType: 'conformance',
    modelId: c.modelId,
    cases: result.cases,
    variants: result.variants,
    fittingCases: result.fittingCases,
    percentFittingCases: result.percentFittingCases,
    averageTraceFitness: result.averageTraceFitness,
    unalignedVariants: result.unalignedVariants,
    perVariant: result.perVariant.slice(0, c.limit ?? 100),
    deviationsByActivity: result.deviationsByActivity,
  };
}

/** Fires when the log's average trace fitness against the model is below the threshold. */
export async function conformanceBelow(
  con: DuckDBConnection,
  log: Log,
  c: { modelId: string; threshold: number; severity?: string },
  models: ModelPort,
): Promise<ConformanceBelowAlertOutcome> {
  const result = await align(con, log, c.modelId, models);
  return {
    alertType: 'conformanceBelow',
    fired: result.averageTraceFitness < c.threshold,
    severity: (c.severity ?? 'Warning') as ConformanceBelowAlertOutcome['severity'],
    observedValue: result.averageTraceFitness,
    threshold: c.threshold,
    modelId: c.modelId,
  };
}

async function align(con: DuckDBConnection, log: Log, modelId: string, models: ModelPort): Promise<Alignments> {
  const net = await models.net(modelId);
  return runConformance(await logVariants(con, log), net, { signal: models.signal });
}
