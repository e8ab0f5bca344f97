import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Document } from 'openapi-backend';

/**
 * Validators for named component schemas of the contract, for checks the request validator
 * cannot make precisely (a block configuration chosen by its operator, an nbformat cell list).
 */
export class ContractSchemas {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(readonly document: Document) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ ...(document as object), $id: 'contract' } as object);
  }

  /** Validates `value` against `#/components/schemas/<name>`; returns Ajv's errors or null. */
  validate(name: string, value: unknown): ErrorObject[] | null {
    let fn = this.cache.get(name);
    if (!fn) {
      fn = this.ajv.getSchema(`contract#/components/schemas/${name}`);
      if (!fn) throw new Error(`The contract has no schema named ${name}`);
      this.cache.set(name, fn);
    }
    return fn(value) ? null : (fn.errors ?? []);
  }

  /** The discriminator mapping of a `oneOf` schema: operator name to component schema name. */
  discriminator(name: string): { propertyName: string; mapping: Record<string, string> } {
    const schema = (
      this.document.components?.schemas as Record<
        string,
        { discriminator?: { propertyName: string; mapping: Record<string, string> } }
      >
    )[name];
    const d = schema?.discriminator;
    if (!d) throw new Error(`Schema ${name} has no discriminator`);
    const mapping = Object.fromEntries(Object.entries(d.mapping).map(([k, ref]) => [k, ref.split('/').pop()!]));
    return { propertyName: d.propertyName, mapping };
  }
}
