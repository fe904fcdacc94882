import { SignJWT } from 'jose';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export interface TokenClaims {
  sub: string;
  roles?: string[];
  projects?: string[] | '*';
  /** Seconds from now until expiry. @default 3600 */
  expiresIn?: number;
}

/** An HS256 token signed with the suite's secret, as a backend issuing tokens would. */
export async function signToken({ sub, roles = [], projects = [], expiresIn = 3600 }: TokenClaims, secret = TEST_JWT_SECRET) {
  return new SignJWT({ roles, projects })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
    .sign(new TextEncoder().encode(secret));
}
