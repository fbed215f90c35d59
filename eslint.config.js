import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layersRule } from './eslint-rules/layers.js';

const ASYNC_TRANSACTION = {
  selector: "CallExpression[callee.property.name='transaction'] > :matches(ArrowFunctionExpression, FunctionExpression)[async=true]",
  message: 'A store transaction is synchronous: an async callback commits at its first await (docs/concurrency.md).',
};
const CONTENT_ROW_WRITES = {
  selector: "CallExpression[callee.object.property.name='content'][callee.property.name=/^(setContent|setChanged|addRange|setStatus|invalidate|bumpLocalVersion|remove)$/]",
  message: 'Only the content owner (transfers/content-owner.ts) changes content rows: ask it (docs/concurrency.md §3).',
};
const CACHE_FILE_MUTATORS = '/^(openCacheFile|resetCacheFile|removeCacheFile|writevFully)$/';
const CACHE_FILE_WRITES = {
  selector: `ImportDeclaration[source.value=/cache-files(\\.ts)?$/] > ImportSpecifier[imported.name=${CACHE_FILE_MUTATORS}]`,
  message: 'Only the content owner (transfers/content-owner.ts) creates, writes, truncates or deletes cache files: ask it (docs/concurrency.md §3).',
};
const CACHE_FILE_REEXPORTS = {
  selector: `ExportNamedDeclaration[source.value=/cache-files(\\.ts)?$/] > ExportSpecifier[local.name=${CACHE_FILE_MUTATORS}]`,
  message: 'Only the content owner (transfers/content-owner.ts) creates, writes, truncates or deletes cache files: ask it (docs/concurrency.md §3).',
};

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'coverage', 'test-results', 'playwright-report', 'bench/results', '.tmp'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { onemount: { rules: { layers: layersRule } } },
    rules: {
      'onemount/layers': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // The concurrency rules that hold the engine's state together (docs/concurrency.md).
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/**/*.test.ts', 'src-main/**/testing/**'],
    rules: {
      'no-restricted-syntax': ['error', ASYNC_TRANSACTION, CONTENT_ROW_WRITES, CACHE_FILE_WRITES, CACHE_FILE_REEXPORTS],
    },
  },
  {
    // The one owner of content rows and cache files (docs/concurrency.md §3, "Content states"), and
    // the helpers only it may call.
    files: ['src-main/transfers/content-owner.ts', 'src-main/transfers/cache-files.ts'],
    rules: {
      'no-restricted-syntax': ['error', ASYNC_TRANSACTION],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
