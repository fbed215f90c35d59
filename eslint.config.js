import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layersRule } from './eslint-rules/layers.js';

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
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='transaction'] > :matches(ArrowFunctionExpression, FunctionExpression)[async=true]",
          message: 'A store transaction is synchronous: an async callback commits at its first await (docs/concurrency.md).',
        },
        {
          selector: "CallExpression[callee.object.property.name='content'][callee.property.name=/^(setContent|addRange|setStatus|invalidate|bumpLocalVersion|remove)$/]",
          message: 'Only the content state owners change content rows: vfs.ts, edit-choices.ts, recovery.ts, upload-worker.ts, download-manager.ts (docs/concurrency.md).',
        },
      ],
    },
  },
  {
    // The content state owners (docs/concurrency.md, "Content states").
    files: ['src-main/vfs/vfs.ts', 'src-main/vfs/edit-choices.ts', 'src-main/vfs/recovery.ts', 'src-main/transfers/upload-worker.ts', 'src-main/transfers/download-manager.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='transaction'] > :matches(ArrowFunctionExpression, FunctionExpression)[async=true]",
          message: 'A store transaction is synchronous: an async callback commits at its first await (docs/concurrency.md).',
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
