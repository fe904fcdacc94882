import type { CodegenConfig } from '@graphql-codegen/cli';

// Types the operation documents the tests and examples use, against the committed SDL.
const config: CodegenConfig = {
  schema: 'graphql/schema.graphql',
  documents: 'graphql/operations/*.graphql',
  generates: {
    'test/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        scalars: { DateTime: 'string', JSON: 'any', ID: 'string' },
        avoidOptionals: false,
        useTypeImports: true,
        enumsAsTypes: true,
      },
    },
  },
};

export default config;
