import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorCode } from '@tenantgraph/core';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenVerifier } from './verifier.ts';

const ISSUER = 'https://idp.test/';
const AUDIENCE = 'tenantgraph-api';
const KID = 'key-1';

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

/** A loopback HTTP listener that counts its hits and answers with `body()` (or 503 when down). */
async function listener(body: () => unknown) {
  const state = { hits: 0, down: false };
  const server = createServer((_req, res) => {
    state.hits++;
    if (state.down) return res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return { url, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let key: Keys;
let publicJwk: JWK;
let jwks: { keys: JWK[] };
let idp: Awaited<ReturnType<typeof listener>>;
let attacker: Awaited<ReturnType<typeof listener>>;

beforeAll(async () => {
  key = await generateKeyPair('RS256', { extractable: true });
  publicJwk = { ...(await exportJWK(key.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  jwks = { keys: [publicJwk] };
  idp = await listener(() => jwks);
  attacker = await listener(() => ({ keys: [] }));
});
afterAll(async () => {
  await idp.close();
  await attacker.close();
});

const now = () => Math.floor(Date.now() / 1000);

/** A token as the identity provider would sign it, with claims and header overridable. */
function sign(claims: JWTPayload = {}, header: Record<string, unknown> = {}, signingKey: Keys['privateKey'] = key.privateKey) {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'user@avocado', tenant: 'avocado', iat: now(), exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: KID, ...header })
    .sign(signingKey);
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

// Without the cache of verified tokens, so that every call below exercises the full check.
type TestOptions = {
  cooldownMs?: number;
  cacheSeconds?: number;
  clockToleranceSeconds?: number;
  maxAgeSeconds?: number;
  tokenType?: string;
};
function verifier(options: TestOptions = {}): TokenVerifier {
  return createTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: idp.url,
    jwksCooldownMs: options.cooldownMs,
    cacheSeconds: options.cacheSeconds ?? 0,
    clockToleranceSeconds: options.clockToleranceSeconds,
    jwksMaxAgeSeconds: options.maxAgeSeconds,
    tokenType: options.tokenType,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The outcome of a verification: the tenant, or the error code (never a thrown non-GraphQL error). */
async function outcome(v: TokenVerifier, token: string): Promise<string> {
  try {
    return `tenant:${(await v.verify(`Bearer ${token}`)).tenantId}`;
  } catch (error) {
    const code = errorCode(error);
    const status = (error as { extensions?: { http?: { status?: number } } }).extensions?.http?.status;
    return `${code}:${status}`;
  }
}

const REFUSED = 'UNAUTHENTICATED:401';

describe('the token verifier', () => {
  it('accepts a well-formed token of the identity provider', async () => {
    const v = verifier();
    expect(await outcome(v, await sign())).toBe('tenant:avocado');
    const viewer = await v.verify(`Bearer ${await sign({ scope: 'products:write orders:write' })}`);
    expect(viewer).toMatchObject({ tenantId: 'avocado', subject: 'user@avocado', scopes: ['products:write', 'orders:write'] });
  });

  it('remembers a verified token, and only until it expires', async () => {
    const v = verifier({ cacheSeconds: 60, clockToleranceSeconds: 0 });
    const token = await sign({ exp: now() + 2 });
    expect(await outcome(v, token)).toBe('tenant:avocado');
    // The identity provider is gone: the remembered token still answers, without a fetch.
    const hits = idp.state.hits;
    expect(await outcome(v, token)).toBe('tenant:avocado');
    expect(idp.state.hits).toBe(hits);
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    expect(await outcome(v, token)).toBe(REFUSED);
  });

  it('remembers only successes: a refused token is checked again every time', async () => {
    const v = verifier({ cacheSeconds: 60 });
    const tampered = `${(await sign()).slice(0, -4)}AAAA`;
    expect(await outcome(v, tampered)).toBe(REFUSED);
    expect(await outcome(v, tampered)).toBe(REFUSED);
  });

  it('refuses a missing or malformed Authorization header with 401', async () => {
    const v = verifier();
    for (const header of [undefined, '', 'Basic abc', 'Bearer', 'Bearer a b', `Bearer ${'a'.repeat(20_000)}`]) {
      await expect(v.verify(header)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
    }
  });

  it('refuses alg none', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISSUER, aud: AUDIENCE, tenant: 'avocado', exp: now() + 600 })}.`;
    expect(await outcome(verifier(), token)).toBe(REFUSED);
    const upper = `${b64({ alg: 'None' })}.${b64({ iss: ISSUER, aud: AUDIENCE, tenant: 'avocado', exp: now() + 600 })}.`;
    expect(await outcome(verifier(), upper)).toBe(REFUSED);
  });

  it('refuses an HMAC token signed with the public key as the secret (401, not 500)', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const pem = new TextEncoder().encode(String(publicJwk.n));
    for (const s of [secret, pem]) {
      const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, tenant: 'avocado', exp: now() + 600 })
        .setProtectedHeader({ alg: 'HS256', kid: KID })
        .sign(s);
      expect(await outcome(verifier(), token)).toBe(REFUSED);
    }
  });

  it('refuses a token signed by a rogue key that claims a known kid', async () => {
    const rogue = await generateKeyPair('RS256');
    expect(await outcome(verifier(), await sign({}, {}, rogue.privateKey))).toBe(REFUSED);
  });

  it('refuses a token that embeds its own jwk', async () => {
    const rogue = await generateKeyPair('RS256', { extractable: true });
    const embedded = await exportJWK(rogue.publicKey);
    expect(await outcome(verifier(), await sign({}, { jwk: embedded, kid: undefined }, rogue.privateKey))).toBe(REFUSED);
    // Even with the genuine key and a genuine kid, the pointer alone is reason to refuse.
    expect(await outcome(verifier(), await sign({}, { jwk: publicJwk }))).toBe(REFUSED);
  });

  it('never follows jku or x5u: the listener they name is never called', async () => {
    const rogue = await generateKeyPair('RS256');
    const before = attacker.state.hits;
    for (const header of [{ jku: attacker.url }, { x5u: attacker.url }, { jku: attacker.url, kid: 'rogue' }]) {
      expect(await outcome(verifier(), await sign({}, header, rogue.privateKey))).toBe(REFUSED);
    }
    expect(await outcome(verifier(), await sign({}, { jku: attacker.url }))).toBe(REFUSED);
    expect(attacker.state.hits).toBe(before);
  });

  it('fetches the JWKS at most once per cooldown under a burst of unknown kids, then picks up a rotated key', async () => {
    // Long enough that signing and verifying the burst fits in it even on a loaded CI machine.
    const v = verifier({ cooldownMs: 2_000 });
    const start = idp.state.hits;
    expect(await outcome(v, await sign())).toBe('tenant:avocado');
    expect(idp.state.hits - start).toBe(1);
    const rotated = await generateKeyPair('RS256', { extractable: true });
    const unknown = await sign({}, { kid: 'key-2' }, rotated.privateKey);
    const burst = await Promise.all(Array.from({ length: 50 }, () => outcome(v, unknown)));
    expect(new Set(burst)).toEqual(new Set([REFUSED]));
    expect(idp.state.hits - start).toBe(1);

    // The provider publishes the new key; after the cooldown one burst triggers exactly one fetch.
    jwks = { keys: [publicJwk, { ...(await exportJWK(rotated.publicKey)), kid: 'key-2', alg: 'RS256' }] };
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const after = await Promise.all(Array.from({ length: 20 }, () => outcome(v, unknown)));
      expect(new Set(after)).toEqual(new Set(['tenant:avocado']));
      expect(idp.state.hits - start).toBe(2);
    } finally {
      jwks = { keys: [publicJwk] };
    }
  });

  it('keeps verifying with cached keys through a JWKS outage, and fails unknown kids fast and at most once per cooldown', async () => {
    const v = verifier({ cooldownMs: 60_000 });
    expect(await outcome(v, await sign())).toBe('tenant:avocado');
    idp.state.down = true;
    try {
      const start = idp.state.hits;
      for (let i = 0; i < 5; i++) expect(await outcome(v, await sign())).toBe('tenant:avocado');
      const rogue = await generateKeyPair('RS256');
      for (let i = 0; i < 5; i++) expect(await outcome(v, await sign({}, { kid: `unknown-${i}` }, rogue.privateKey))).toBe(REFUSED);
      expect(idp.state.hits - start).toBe(0);
    } finally {
      idp.state.down = false;
    }
  });

  it('answers 401 when the JWKS is unreachable from the start, and recovers once it is back', async () => {
    idp.state.down = true;
    const v = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: idp.url, jwksCooldownMs: 100, cacheSeconds: 0 });
    try {
      expect(await outcome(v, await sign())).toBe(REFUSED);
    } finally {
      idp.state.down = false;
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await outcome(v, await sign())).toBe('tenant:avocado');
  });

  it.each([
    ['expired', { exp: now() - 120 }],
    ['not yet valid (nbf in the future)', { nbf: now() + 600 }],
    ['issued in the future (iat)', { iat: now() + 600 }],
    ['without exp', { exp: undefined }],
    ['from another issuer', { iss: 'https://evil.test/' }],
    ['for another audience', { aud: 'other-api' }],
    ['without a tenant', { tenant: undefined }],
    ['with a tenant array', { tenant: ['avocado', 'mango'] }],
    ['with a numeric tenant', { tenant: 42 }],
    ['with an empty tenant', { tenant: '' }],
    ['with a tenant of 10 KB', { tenant: 'a'.repeat(10_240) }],
    ['with a tenant of 100 characters', { tenant: 'a'.repeat(100) }],
    ['with a tenant outside the pattern', { tenant: 'Avocado/../mango' }],
    ['with a tenant object', { tenant: { id: 'avocado' } }],
  ])('refuses a token %s', async (_name, claims) => {
    expect(await outcome(verifier(), await sign(claims as JWTPayload))).toBe(REFUSED);
  });

  it('refuses a tampered payload and a tampered header', async () => {
    const [header, payload, signature] = (await sign()).split('.');
    const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString());
    const tampered = `${header}.${b64({ ...claims, tenant: 'mango' })}.${signature}`;
    expect(await outcome(verifier(), tampered)).toBe(REFUSED);
    const reheadered = `${b64({ alg: 'ES256', kid: KID })}.${payload}.${signature}`;
    expect(await outcome(verifier(), reheadered)).toBe(REFUSED);
    expect(await outcome(verifier(), `${header}.${payload}.`)).toBe(REFUSED);
    expect(await outcome(verifier(), `${header}.${payload}`)).toBe(REFUSED);
  });

  it('refuses a key withdrawn from the JWKS once the keys are older than their max age, remembered tokens included', async () => {
    const second = await generateKeyPair('RS256', { extractable: true });
    const secondJwk = { ...(await exportJWK(second.publicKey)), kid: 'key-2', alg: 'RS256' };
    jwks = { keys: [publicJwk, secondJwk] };
    try {
      const v = verifier({ maxAgeSeconds: 1, cooldownMs: 100, cacheSeconds: 60 });
      const remembered = await sign({}, { kid: 'key-2' }, second.privateKey);
      expect(await outcome(v, remembered)).toBe('tenant:avocado');
      // The identity provider withdraws key-2 (it leaked); within the max age it is still trusted ...
      jwks = { keys: [publicJwk] };
      expect(await outcome(v, remembered)).toBe('tenant:avocado');
      // ... and past it, neither the remembered token nor a new one signed with key-2 passes.
      await sleep(1_200);
      expect(await outcome(v, remembered)).toBe(REFUSED);
      expect(await outcome(v, await sign({ sub: 'new' }, { kid: 'key-2' }, second.privateKey))).toBe(REFUSED);
      expect(await outcome(v, await sign())).toBe('tenant:avocado');
    } finally {
      jwks = { keys: [publicJwk] };
    }
  });

  it('keeps the last keys working when the JWKS is down past their max age', async () => {
    const v = verifier({ maxAgeSeconds: 1, cooldownMs: 60_000 });
    expect(await outcome(v, await sign())).toBe('tenant:avocado');
    idp.state.down = true;
    try {
      await sleep(1_200);
      const start = idp.state.hits;
      for (let i = 0; i < 5; i++) expect(await outcome(v, await sign({ sub: `user-${i}` }))).toBe('tenant:avocado');
      // A refetch was tried (and failed): the keys were used past their age only because of the outage.
      expect(idp.state.hits - start).toBeGreaterThanOrEqual(1);
    } finally {
      idp.state.down = false;
    }
  });

  it('with a token type set, refuses a token whose typ header differs (an ID token is not an access token)', async () => {
    const v = verifier({ tokenType: 'at+jwt' });
    expect(await outcome(v, await sign({}, { typ: 'at+jwt' }))).toBe('tenant:avocado');
    expect(await outcome(v, await sign({}, { typ: 'application/at+jwt' }))).toBe('tenant:avocado');
    expect(await outcome(v, await sign({}, { typ: 'JWT' }))).toBe(REFUSED);
    expect(await outcome(v, await sign({}, { typ: 'id+jwt' }))).toBe(REFUSED);
    expect(await outcome(v, await sign())).toBe(REFUSED);
  });

  it('without a token type set, accepts any typ header', async () => {
    const v = verifier();
    for (const typ of ['at+jwt', 'JWT', 'id+jwt', undefined]) expect(await outcome(v, await sign({}, { typ }))).toBe('tenant:avocado');
  });
});
