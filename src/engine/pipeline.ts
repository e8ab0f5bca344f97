import type { DuckDBConnection } from '@duckdb/node-api';
import type { AlertOutcome, CalculatorResult } from '../api/types';
import { evaluateAlert, type AlertConfig } from './alerts';
import * as calc from './calculators';
import { applyFilter, type FilterConfig } from './filters';
import { defineLog, sizeOf, type Log } from './log';
import * as modelBlocks from './models/analysis';
import type { ModelPort } from './models/analysis';

/** One block as the engine runs it: its id, type and parsed configuration. */
export interface PipelineBlock {
  id: string;
  blockType: 'Filter' | 'Calculator' | 'Alert';
  configuration: Record<string, unknown>;
}

/** What one block did: in and out sizes, time taken, and its output (calculators and alerts). */
export interface BlockOutcome {
  blockId: string;
  status: 'Success' | 'Error';
  durationSeconds: number;
  casesIn: number;
  casesOut: number;
  eventsIn: number;
  eventsOut: number;
  /** A calculator's result or an alert's outcome, as the contract types them. */
  output?: CalculatorResult | AlertOutcome;
  error?: { errorType: string; errorMessage: string };
}

/**
 * Runs blocks in order on the events of `relation`: every filter narrows the log for the blocks
 * after it; calculators and alerts see the log as filtered so far. Stops at the first error.
 */
export async function runBlocks(
  con: DuckDBConnection,
  relation: string,
  blocks: PipelineBlock[],
  onProgress?: (outcome: BlockOutcome, index: number) => void | Promise<void>,
  models: ModelPort = NO_MODELS,
): Promise<BlockOutcome[]> {
  let log = await defineLog(con, relation);
  const outcomes: BlockOutcome[] = [];
  for (const [i, block] of blocks.entries()) {
    const started = performance.now();
    const before = await sizeOf(con, log);
    let outcome: BlockOutcome;
    try {
      let output: CalculatorResult | AlertOutcome | undefined;
      if (block.blockType === 'Filter')
        log = await defineLog(con, await applyFilter(con, log, block.configuration as FilterConfig));
      else if (block.blockType === 'Calculator') output = await calculate(con, log, block.configuration, models);
      else if (block.configuration.alertType === 'conformanceBelow')
        output = await modelBlocks.conformanceBelow(
          con,
          log,
          block.configuration as { modelId: string; threshold: number; severity?: string },
          models,
        );
      else output = await evaluateAlert(con, log, block.configuration as AlertConfig);
      const after = await sizeOf(con, log);
      outcome = {
        blockId: block.id,
        status: 'Success',
        ...timing(started),
        casesIn: before.cases,
        eventsIn: before.events,
        casesOut: after.cases,
        eventsOut: after.events,
        output,
      };
    } catch (err) {
      const error = { errorType: (err as Error).name, errorMessage: (err as Error).message };
      outcome = {
        blockId: block.id,
        status: 'Error',
        ...timing(started),
        casesIn: before.cases,
        eventsIn: before.events,
        casesOut: before.cases,
        eventsOut: before.events,
        error,
      };
    }
    outcomes.push(outcome);
    await onProgress?.(outcome, i);
    if (outcome.status === 'Error') break;
  }
  return outcomes;
}

/** Runs the calculator a configuration names; its result is the CalculatorResult of its `calculatorType`. */
export async function calculate(
  con: DuckDBConnection,
  log: Log,
  c: Record<string, unknown>,
  models: ModelPort = NO_MODELS,
): Promise<CalculatorResult> {
  const limit = typeof c.limit === 'number' ? c.limit : 100;
  switch (c.calculatorType) {
    case 'summary':
      return calc.summary(con, log);
    case 'activityFrequency':
      return calc.activityFrequency(con, log, limit);
    case 'variants':
      return calc.variants(con, log, limit);
    case 'throughputTime':
      return calc.throughputTime(con, log);
    case 'processMap':
      return calc.processMap(con, log);
    case 'bottlenecks':
      return calc.bottlenecks(con, log, limit, typeof c.minCount === 'number' ? c.minCount : undefined);
    case 'rework':
      return calc.rework(con, log, limit);
    case 'resourceWorkload':
      return calc.resourceWorkload(
        con,
        log,
        typeof c.resourceAttribute === 'string' ? c.resourceAttribute : undefined,
        limit,
      );
    case 'discovery':
      return modelBlocks.discovery(con, log, c as { noiseThreshold?: number; modelName?: string }, models);
    case 'conformance':
      return modelBlocks.conformance(con, log, { modelId: String(c.modelId), limit }, models);
    default:
      throw new Error(`Unknown calculator ${String(c.calculatorType)}`);
  }
}

function timing(started: number): { durationSeconds: number } {
  return { durationSeconds: Math.round(performance.now() - started) / 1000 };
}

/** Where no project's models are at hand: model blocks fail with a clear error. */
const NO_MODELS: ModelPort = {
  net: () => Promise.reject(new Error('Process models are not available here.')),
  saveDiscovered: () => Promise.reject(new Error('Process models are not available here.')),
};
