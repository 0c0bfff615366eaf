/** Ids name folders, object keys and workflow ids, so anything outside this set is refused at the edge. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export class InvalidIdError extends Error {
  constructor(
    readonly field: string,
    readonly value: string,
  ) {
    super(
      `${field} ${JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value)} is not a valid id: ` +
        'use 1 to 64 characters of A-Z, a-z, 0-9, "_" or "-"',
    );
    this.name = 'InvalidIdError';
  }
}

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export function assertId(field: string, value: unknown): string {
  if (!isValidId(value)) throw new InvalidIdError(field, String(value));
  return value;
}
