import { z } from 'zod';
import { HttpError } from '../server/http-errors.ts';
import { fieldErrors, summarise } from '../server/router.ts';

/** A whole-number query parameter within [min, max], given as decimal digits. */
export function intParam(min: number, max: number) {
  return z
    .string()
    .regex(/^-?\d{1,16}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/**
 * A query string checked with `schema`, whose values are the raw strings (a repeated parameter
 * counts once, the first). Throws 400 `invalid-query` naming each bad parameter.
 */
export function parseQuery<T>(query: URLSearchParams, schema: z.ZodType<T>): T {
  const raw: Record<string, string> = {};
  for (const [key, value] of query) if (!Object.hasOwn(raw, key)) raw[key] = value;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, 'invalid-query', summarise(parsed.error.issues), {}, fieldErrors(parsed.error.issues));
  return parsed.data;
}

/** A positive whole-number path segment (`/jobs/:id`); 400 naming it otherwise. */
export function idParam(value: string | undefined, name: string): number {
  const n = Number(value);
  if (value === undefined || !/^\d{1,16}$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new HttpError(400, 'bad-request', `${name}: expected a positive whole number, got "${value ?? ''}"`, {}, { [name]: 'must be a positive whole number' });
  }
  return n;
}
