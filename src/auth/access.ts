import { forbidden, unauthenticated } from '../errors.js';
import { isExpired, type Viewer } from './viewer.js';

/** The access rules of the contract, one function per question, used by resolvers and subscriptions alike. */

export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw unauthenticated();
  if (isExpired(viewer)) throw unauthenticated('Token has expired');
  return viewer;
}

export const isAdmin = (viewer: Viewer) => viewer.roles.has('admin');

/** A person reads, replays, deletes and subscribes to their own traces; admins to everyone's. */
export const canReadPerson = (viewer: Viewer, personId: string) => isAdmin(viewer) || viewer.personId === personId;

/** Context for a person is written by that person, or by a backend service holding `ingest`. */
export const canWritePerson = (viewer: Viewer, personId: string) =>
  canReadPerson(viewer, personId) || viewer.roles.has('ingest');

export function requirePerson(viewer: Viewer | null, personId: string): Viewer {
  const v = requireViewer(viewer);
  if (!canReadPerson(v, personId)) throw forbidden(`Not allowed to access person ${personId}`);
  return v;
}

export function requireWriteFor(viewer: Viewer | null, personId: string): Viewer {
  const v = requireViewer(viewer);
  if (!canWritePerson(v, personId)) throw forbidden(`Not allowed to write context for person ${personId}`);
  return v;
}

export function requireAdmin(viewer: Viewer | null): Viewer {
  const v = requireViewer(viewer);
  if (!isAdmin(v)) throw forbidden('Only admins may do this');
  return v;
}

/** Projects are read by admins, ingest services, and tokens whose `projects` claim names them (or is `*`). */
export const canReadProject = (viewer: Viewer, projectId: string) =>
  isAdmin(viewer) || viewer.roles.has('ingest') || viewer.projects === '*' || viewer.projects.has(projectId);

export function requireProjectReader(viewer: Viewer | null, projectId: string): Viewer {
  const v = requireViewer(viewer);
  if (!canReadProject(v, projectId)) throw forbidden(`Not allowed to read project ${projectId}`);
  return v;
}

/** Only backend services (`ingest`) and admins append to project streams and record simulations. */
export function requireIngest(viewer: Viewer | null, action: string): Viewer {
  const v = requireViewer(viewer);
  if (!isAdmin(v) && !v.roles.has('ingest')) throw forbidden(`${action} needs the ingest or admin role`);
  return v;
}
