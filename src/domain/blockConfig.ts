import type { ContractSchemas } from '../api/schemas';
import { problemsFromSchemaErrors } from './schemaProblems';
import type { FieldProblem } from './errors';

type BlockType = 'Filter' | 'Calculator' | 'Alert';

/** Which key names the operator, and which `oneOf` of the contract lists the operators, per block type. */
const FAMILY: Record<BlockType, { key: string; schema: string }> = {
  Filter: { key: 'filterType', schema: 'FilterConfiguration' },
  Calculator: { key: 'calculatorType', schema: 'CalculatorConfiguration' },
  Alert: { key: 'alertType', schema: 'AlertConfiguration' },
};

/** A configuration that passed the checks: the object and its canonical JSON text. */
export interface CheckedConfiguration {
  value: Record<string, unknown>;
  text: string;
}

/**
 * Checks a block configuration (object or JSON string) for a block type: it must name an
 * operator of that type and match that operator's schema. Returns every problem found, with
 * field names under `fieldBase` (such as `body.configuration`).
 */
export function checkConfiguration(
  schemas: ContractSchemas,
  blockType: BlockType,
  input: unknown,
  fieldBase: string,
): CheckedConfiguration | FieldProblem[] {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      return [{ field: fieldBase, message: `is not valid JSON: ${(err as Error).message}` }];
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ field: fieldBase, message: 'must be a JSON object' }];
  }
  const family = FAMILY[blockType];
  const { mapping } = schemas.discriminator(family.schema);
  const record = value as Record<string, unknown>;
  const operator = record[family.key];
  if (typeof operator !== 'string') {
    const wrongFamily = Object.entries(FAMILY).find(([, f]) => f.key in record)?.[0];
    const hint = wrongFamily ? `; it names a ${wrongFamily} operator` : '';
    return [{ field: `${fieldBase}.${family.key}`, message: `is required for a ${blockType} block${hint}` }];
  }
  const schemaName = mapping[operator];
  if (!schemaName) {
    return [{ field: `${fieldBase}.${family.key}`, message: `must be one of: ${Object.keys(mapping).join(', ')}` }];
  }
  const errors = schemas.validate(schemaName, record);
  if (errors) return problemsFromSchemaErrors(errors, fieldBase);
  return { value: record, text: JSON.stringify(record) };
}

/** What a dataset has, for checking that a configuration names only things that exist. */
export interface Vocabulary {
  activities: string[];
  attributes: string[];
}

/**
 * The problems of a checked configuration against a dataset: attributes and activities it names
 * that the dataset does not have, each under its field name.
 */
export function checkAgainstDataset(
  config: Record<string, unknown>,
  vocabulary: Vocabulary,
  fieldBase: string,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const activities = new Set(vocabulary.activities);
  const attributes = new Set(vocabulary.attributes);
  const activity = (value: unknown, field: string) => {
    if (typeof value === 'string' && !activities.has(value))
      problems.push({ field: `${fieldBase}.${field}`, message: `activity '${value}' is not in the dataset` });
  };
  const attribute = (value: unknown, field: string) => {
    if (typeof value === 'string' && !attributes.has(value)) {
      problems.push({
        field: `${fieldBase}.${field}`,
        message: `attribute '${value}' is not in the dataset (it has: ${[...attributes].join(', ')})`,
      });
    }
  };
  attribute(config.attribute, 'attribute');
  attribute(config.resourceAttribute, 'resourceAttribute');
  if (Array.isArray(config.activities)) config.activities.forEach((a, i) => activity(a, `activities[${i}]`));
  activity(config.from, 'from');
  activity(config.to, 'to');
  if (config.filterType === 'rework') activity(config.activity, 'activity');
  if (Array.isArray(config.variants)) {
    config.variants.forEach((v, i) => Array.isArray(v) && v.forEach((a, j) => activity(a, `variants[${i}][${j}]`)));
  }
  return problems;
}
