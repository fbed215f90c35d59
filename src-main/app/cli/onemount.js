#!/usr/bin/env node
// The `onemount` command: the compiled engine (dist/engine, `npm run build:engine`) when it is
// built and current, else the TypeScript sources through tsx (a checkout being edited).
import { pathToFileURL } from 'node:url';
import { ENGINE_MAIN, engineBundleState } from './engine-bundle.js';

if (process.env.ONEMOUNT_FROM_SOURCE !== '1' && (await engineBundleState()) === undefined) {
  await import(pathToFileURL(ENGINE_MAIN).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
