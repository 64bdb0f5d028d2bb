// The dashboard's build: static files in dist/dashboard, which the dispatcher serves at `/`.
// JSX goes through Vite's own oxc transform (automatic runtime): no React plugin needed.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const dispatcher = process.env.GOCRON_DASHBOARD_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: here('.'),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  // The one lib the browser imports (the API's shapes and vocabulary); it is dependency-free for that reason.
  resolve: { alias: { '@app/contract': here('../../libs/contract/src/index.ts') } },
  build: {
    outDir: here('../../dist/dashboard'),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
  // `npx vite --config apps/dashboard/vite.config.mts`: the dashboard with hot reload, the API of a running dispatcher.
  server: { proxy: { '/api': dispatcher, '/metrics': dispatcher } },
});
