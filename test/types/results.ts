/**
 * Compile-time checks of the results' types as a client sees them in generated/api.d.ts, run by
 * `npm run typecheck`, not by jest: an execution's output narrows by `blockType`, then by
 * `calculatorType` or `alertType`, to the exact result, and each `@ts-expect-error` fails the
 * typecheck if the line below it compiles, that is if the contract stopped typing that result.
 */
import type { components } from '../../generated/api';

type ExecutionOutput = components['schemas']['ExecutionOutput'];

/** The activities of each variant of a `variants` block's output, without a cast. */
export function variantsOf(output: ExecutionOutput): string[][] {
  if (!('blockType' in output) || output.blockType !== 'Calculator') return [];
  const content = output.content;
  if (content?.calculatorType !== 'variants') return [];
  return content.variants.map((v) => v.activities);
}

/** The violating cases of a `caseCondition` alert's output, without a cast. */
export function violatingCasesOf(output: ExecutionOutput): string[] {
  if (!('blockType' in output) || output.blockType !== 'Alert') return [];
  return output.content?.alertType === 'caseCondition' ? output.content.violatingCases : [];
}

export function mistakes(output: ExecutionOutput): unknown[] {
  const found: unknown[] = [];
  if ('blockType' in output && output.blockType === 'Calculator' && output.content?.calculatorType === 'variants') {
    // @ts-expect-error a variants result has no nodes (that is the process map's)
    found.push(output.content.nodes);
    // @ts-expect-error a variant's mean duration may be null (no timed case)
    const seconds: number = output.content.variants[0].meanDurationSeconds;
    found.push(seconds);
  }
  if ('blockType' in output && output.blockType === 'Alert') {
    // @ts-expect-error only a caseCondition outcome names violating cases
    found.push(output.content?.violatingCases);
  }
  // @ts-expect-error a Jupyter cell's output has no blockType, so it must be narrowed first
  found.push(output.blockType);
  return found;
}
