import { getOperationAST, Kind, type DocumentNode, type OperationTypeNode } from 'graphql';

/**
 * Whether the operation to run is of this type and selects only root fields from `roots` (fragments at the root
 * count as "no": the plugins that ask want a plain, recognisable operation).
 */
export function selectsOnly(document: DocumentNode, operationName: string | null | undefined, type: OperationTypeNode, roots: ReadonlySet<string>) {
  const operation = getOperationAST(document, operationName);
  return operation?.operation === type && operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && roots.has(s.name.value));
}
