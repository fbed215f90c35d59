#!/usr/bin/env node
// The `onemount` command: the compiled engine (dist/engine, `npm run build:engine`) when it is
// built and current, else the TypeScript sources through tsx (a checkout being edited).
// ONEMOUNT_ENGINE=compiled or =source picks one regardless (benchmarks compare the two).
import { pathToFileURL } from 'node:url';
import { ENGINE_MAIN, engineBundleState } from './engine-bundle.js';

const wanted = process.env.ONEMOUNT_ENGINE;
if (wanted !== undefined && wanted !== '' && wanted !== 'compiled' && wanted !== 'source') {
  console.error(`onemount: ONEMOUNT_ENGINE must be compiled or source, not '${wanted}'`);
  process.exit(2);
}
const compiled = wanted === 'compiled' || (wanted !== 'source' && (await engineBundleState()) === undefined);
if (compiled) {
  // The bundle built from ./main.ts (imported literally below), which the layer rule checks.
  // eslint-disable-next-line onemount/layers
  await import(pathToFileURL(ENGINE_MAIN).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
