import { badUserInput, toGlobalId } from '@tenantgraph/core';
import type { MemberRow } from './member.table.ts';

export function memberRowToMember(row: MemberRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    name: row.name,
    email: row.email,
  };
}

export type AddMemberInput = { organizationId: string; name: string; email: string };

// Plausible, not RFC 5322: one @, no spaces, a dot in the domain. Delivery is the real test.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

export function validateAddMember(input: AddMemberInput) {
  const name = input.name.trim();
  // Lower-cased so that one address cannot join the same organization twice in different cases.
  const email = input.email.trim().toLowerCase();
  if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
  if (email.length > 254 || !EMAIL_PATTERN.test(email)) throw badUserInput('email must be an email address.', 'email');
  return { name, email };
}
