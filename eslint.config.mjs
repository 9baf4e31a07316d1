// ESLint as temporalio/samples-typescript configures it: typescript-eslint with type information,
// no-floating-promises as an error, and no Node built-ins in workflow code (the workflow sandbox has none).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Workflow code and the common files it imports run in Temporal's deterministic sandbox. */
const WORKFLOW_CODE = [
  'workflows/**/*.ts',
  'common/approval.ts',
  'common/ciba-answers.ts',
  'common/outcomes.ts',
  'common/payment.ts',
  'common/polling.ts',
  'common/provider-profile.ts',
  'common/rejected-payload.ts',
  'common/search-attributes.ts',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'lib/', '.data/', '.tools/', 'coverage/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      'object-shorthand': ['error', 'always'],
    },
  },
  {
    files: WORKFLOW_CODE,
    rules: {
      'no-restricted-imports': ['error', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)],
    },
  },
  prettier,
);
