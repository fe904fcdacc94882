import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { AuthConfig } from '../config.js';
import { unauthenticated } from '../errors.js';
import { developmentViewer, type Viewer } from './viewer.js';

export type TokenVerifier = (authorization: string | null | undefined) => Promise<Viewer | null>;

const ROLES = new Set(['admin', 'ingest'] as const);

function viewerFromClaims(claims: JWTPayload): Viewer {
  if (typeof claims.sub !== 'string' || claims.sub === '') throw unauthenticated('Token has no subject (sub)');
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  const projects = claims.projects;
  return {
    personId: claims.sub,
    roles: new Set(roles.filter((role): role is 'admin' | 'ingest' => ROLES.has(role))),
    projects:
      projects === '*' || (Array.isArray(projects) && projects.includes('*'))
        ? '*'
        : new Set(Array.isArray(projects) ? projects.filter((p): p is string => typeof p === 'string') : []),
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
  };
}

/**
 * Turns an `Authorization` value (`Bearer <jwt>`) into a viewer: null when absent, UNAUTHENTICATED when
 * malformed, badly signed or expired. HS256 with JWT_SECRET, or the keys published at JWKS_URL.
 */
export function createTokenVerifier(auth: AuthConfig): TokenVerifier {
  if (auth.mode === 'open') return async () => developmentViewer;
  let verify: (token: string) => Promise<{ payload: JWTPayload }>;
  if (auth.mode === 'secret') {
    const secret = new TextEncoder().encode(auth.secret);
    verify = (token) => jwtVerify(token, secret, { algorithms: ['HS256'] });
  } else {
    const keys = createRemoteJWKSet(auth.jwksUrl);
    verify = (token) => jwtVerify(token, keys);
  }
  return async (authorization) => {
    if (authorization === undefined || authorization === null || authorization === '') return null;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match?.[1]) throw unauthenticated('Authorization must be "Bearer <token>"');
    try {
      const { payload } = await verify(match[1]);
      return viewerFromClaims(payload);
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthenticated('Token has expired');
      if (error instanceof errors.JOSEError) throw unauthenticated(`Invalid token: ${error.code}`);
      throw error;
    }
  };
}
