/**
 * The panel's indexer setting against a real engine on a real mount (docs/indexers.md): the Settings
 * line counts what a program named like an indexer was refused, the switch and the list save and
 * apply to the next open, a line the engine would refuse is named and not saved, and the default
 * list comes back with one button.
 */
/* eslint-disable no-empty-pattern -- Playwright passes testInfo second, after an object pattern of fixtures */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { ACCOUNT, run } from '../harness.ts';
import { PanelRig, shoot } from './panel-rig.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../../src-shared/model/indexer-programs.ts';

let rig: PanelRig;
let page: Page;
/** A copy of cat named like GNOME's extractor. */
let indexer: string;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  rig = await PanelRig.start({
    seed: async (admin) => {
      await admin.remote({ op: 'mkdir', path: 'Docs' });
      for (const name of ['a.txt', 'b.txt', 'c.txt']) await admin.remote({ op: 'write', path: `Docs/${name}`, content: `${name}\n` });
    },
  });
  await mkdir(path.join(rig.h.root, 'bin'));
  indexer = path.join(rig.h.root, 'bin', 'tracker-extract-3');
  await copyFile('/bin/cat', indexer);
  await run('chmod', ['755', indexer]);
  page = await browser.newPage({ viewport: { width: 440, height: 900 } });
  await page.goto(rig.url);
  await expect(page.getByTestId('connectivity')).toHaveText('Online', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Settings…' }).click();
  await expect(page.getByTestId('settings').getByRole('button', { name: 'Save' })).toBeVisible();
});

test.afterAll(async () => {
  await page?.close();
  await rig?.close();
});

const savedSettings = () => JSON.parse(readFileSync(path.join(rig.h.env.XDG_CONFIG_HOME!, 'onemount', ACCOUNT, 'settings.json'), 'utf8')) as Record<string, unknown>;
const readAs = (program: string, file: string) => run(program, [rig.h.at('Docs', file)], { timeoutMs: 30_000 });
const list = () => page.getByLabel('Indexers and thumbnailers (one program per line)');
const refuseSwitch = () => page.getByLabel('Keep indexers and thumbnailers from downloading files');

test('the Indexers line counts what was refused, live', async ({}, info) => {
  await expect(page.getByTestId('indexer-refusals')).toHaveText('None refused yet');
  await expect(refuseSwitch()).toBeChecked();
  await expect(list()).toHaveValue(DEFAULT_INDEXER_PROGRAMS.join('\n'));
  const refused = await readAs(indexer, 'a.txt');
  expect(refused.stderr).toContain('Permission denied');
  await expect(page.getByTestId('indexer-refusals')).toHaveText('1 read of files not on this device refused (tracker-extract-3 1)');
  await shoot(page, info, '70-indexers-refused');
});

test('a line the engine would refuse is named and nothing is saved; the switch off saves and lets them read', async ({}, info) => {
  await list().fill('tracker-extract-3\na/b/c');
  await expect(page.getByText('“a/b/c” is not a program name or name/argument')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Save' })).toBeDisabled();
  await shoot(page, info, '71-indexers-bad-line');
  await list().fill('tracker-extract-3\n\n  cat  \n');
  await refuseSwitch().uncheck();
  await expect(list()).toBeDisabled();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-outcome')).toHaveText('Saved');
  expect(savedSettings()).toMatchObject({ refuseIndexers: false, indexerPrograms: ['tracker-extract-3', 'cat'] });
  await expect(list()).toHaveValue('tracker-extract-3\ncat');
  await expect(page.getByTestId('indexer-refusals')).toHaveText('Allowed to download files');
  const allowed = await readAs(indexer, 'b.txt');
  expect(allowed.stdout).toBe('b.txt\n');
});

test('the switch on again with the saved list: cat counts as an indexer; Restore the default list brings it back', async () => {
  await refuseSwitch().check();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-outcome')).toHaveText('Saved');
  const refused = await readAs('cat', 'c.txt');
  expect(refused.stderr).toContain('Permission denied');
  await expect(page.getByTestId('indexer-refusals')).toHaveText('2 reads of files not on this device refused (cat 1, tracker-extract-3 1)');
  await page.getByRole('button', { name: 'Restore the default list' }).click();
  await expect(list()).toHaveValue(DEFAULT_INDEXER_PROGRAMS.join('\n'));
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-outcome')).toHaveText('Saved');
  // The default list is not written into the file, so later additions to it apply.
  expect(savedSettings()).toMatchObject({ refuseIndexers: true });
  expect(savedSettings()).not.toHaveProperty('indexerPrograms');
  await expect(list()).toHaveValue(DEFAULT_INDEXER_PROGRAMS.join('\n'));
  const person = await readAs('cat', 'c.txt');
  expect(person.stdout).toBe('c.txt\n');
});
