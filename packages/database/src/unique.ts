import { badUserInput } from '@tenantgraph/core';

/**
 * For `.catch()` after a write: a unique violation (SQLSTATE 23505) becomes BAD_USER_INPUT on
 * `field`, with `message`; any other error is thrown on unchanged.
 * @example await insertProduct(trx, tenantId, row).catch(uniqueViolationAs(`sku "${row.sku}" is taken.`, 'sku'))
 */
export function uniqueViolationAs(message: string, field: string) {
  return (error: unknown): never => {
    if ((error as { code?: unknown } | null)?.code === '23505') throw badUserInput(message, field);
    throw error;
  };
}
