/** Who is asking: the verified claims of a bearer token, or the development viewer in open mode. */
export interface Viewer {
  personId: string;
  roles: ReadonlySet<'admin' | 'ingest'>;
  /** Project ids the token may read, or `*` for all. */
  projects: '*' | ReadonlySet<string>;
  /** Epoch milliseconds after which the token is no longer valid; null when it never expires. */
  expiresAt: number | null;
}

/** In open development mode (no JWT_SECRET, no JWKS_URL) every caller is this all-powerful local viewer. */
export const developmentViewer: Viewer = {
  personId: 'developer',
  roles: new Set(['admin', 'ingest']),
  projects: '*',
  expiresAt: null,
};

export const isExpired = (viewer: Viewer, now = Date.now()) => viewer.expiresAt !== null && viewer.expiresAt <= now;
