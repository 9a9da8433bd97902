/**
 * fast-check generators shared by the property tests of endpoints that take records.
 */
import fc from "fast-check";

/**
 * JSON texts of `sample` with one field changed: dropped, or set to a generated value. The
 * field is one of `fields` or one of `extra` (names the contract does not have).
 */
export function oneFieldChanged(
  sample: Readonly<Record<string, unknown>>,
  fields: readonly string[],
  value: fc.Arbitrary<unknown>,
  extra: readonly string[] = ["extra", "rows"],
): fc.Arbitrary<string> {
  return fc
    .record({ field: fc.constantFrom(...fields, ...extra), value, drop: fc.boolean() })
    .map(({ field, value, drop }) => {
      const record: Record<string, unknown> = { ...sample };
      if (drop) delete record[field];
      else record[field] = value;
      return JSON.stringify(record);
    });
}
