/**
 * The UI tests' setup: the e2e MountHarness (emulator + `onemount mount` in its own process) and
 * `onemount ui` as a third process, exactly as a person on a headless machine runs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page, TestInfo } from '@playwright/test';
import { ACCOUNT, MountHarness, type HarnessOptions } from '../harness.ts';

const ONEMOUNT = path.resolve(import.meta.dirname, '../../src-main/app/cli/onemount.js');
/** Screenshots of every state, kept as the suite's artifacts (and for the README). */
export const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-results/ui-screenshots');

export class PanelRig {
  private constructor(
    readonly h: MountHarness,
    private readonly ui: ChildProcess,
    readonly url: string,
  ) {}

  static async start(o: HarnessOptions): Promise<PanelRig> {
    const h = await MountHarness.start(o);
    try {
      const ui = spawn(process.execPath, [ONEMOUNT, 'ui', '--account', ACCOUNT], { env: h.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        ui.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /Transfer panel: (http:\/\/127\.0\.0\.1:\d+\/\S+\/)/.exec(out);
          if (m) resolve(m[1]!);
        });
        ui.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
        ui.once('exit', (code) => reject(new Error(`onemount ui exited with ${code}: ${err.trim()}`)));
        setTimeout(() => reject(new Error(`onemount ui printed no address within 30 s: ${out} ${err}`)), 30_000).unref();
      });
      return new PanelRig(h, ui, url);
    } catch (e) {
      await h.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.ui.exitCode === null) {
      const exited = new Promise((resolve) => this.ui.once('exit', resolve));
      this.ui.kill('SIGTERM');
      await exited;
    }
    await this.h.close();
  }
}

/** Saves a full-page screenshot under test-results/ui-screenshots and attaches it to the report. */
export async function shoot(page: Page, info: TestInfo, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await info.attach(name, { path: file, contentType: 'image/png' });
}
