// Type-aware lint: promises must be handled, switches over unions must be exhaustive.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

// The Node.js globals the plain-JavaScript scripts use (bench/*.js run as measured processes without a loader,
// scripts/start.js); listed here instead of a dependency on the `globals` package.
const nodeGlobals = Object.fromEntries(
  ['__dirname', 'process', 'Buffer', 'URL', 'fetch', 'global', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].map(
    (name) => [name, 'readonly'],
  ),
);

export default tseslint.config(
  // apps/dashboard is a browser app with its own tsconfig (DOM, JSX); `npm run build:dashboard` type-checks it.
  // libs/protocol/src/generated is proto-loader-gen-types output (`npm run gen:proto`), checked against the proto by a
  // unit test; tsc still type-checks it.
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '*.config.js',
      'eslint.config.mjs',
      'apps/dashboard/**',
      'libs/protocol/src/generated/**',
    ],
  },
  eslint.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      'no-console': 'off',
    },
  },
  // CommonJS scripts run by plain node: ESLint's JavaScript rules (no types to check).
  {
    files: ['bench/**/*.js', 'scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
);
