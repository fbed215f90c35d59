/**
 * Start on login (docs/ui.md, Settings): an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/onemount.desktop`,
 * which every freedesktop session (GNOME, KDE, Xfce, …) starts at login. Turning it off removes the
 * file; an entry a person disabled by hand (Hidden=true) counts as off.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../base/files.ts';

export const AUTOSTART_FILE_NAME = 'onemount.desktop';

/** `$XDG_CONFIG_HOME/autostart`, or `~/.config/autostart`. */
export function autostartDir(env: NodeJS.ProcessEnv, home: string): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'autostart');
}

/** One argument quoted as the Desktop Entry spec's Exec key wants it. */
function execArg(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `"${arg.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`;
}

/** The Exec line: in a desktop entry a literal '%' must be doubled, and `\` inside a string is escaped once more. */
export function desktopExec(argv: readonly string[]): string {
  return argv
    .map(execArg)
    .map((a) => a.replace(/%/g, '%%'))
    .join(' ')
    .replace(/\\/g, '\\\\');
}

/** The entry's text; `--hidden` (the desktop app's) starts the app in the tray without opening the panel. */
export function autostartEntry(argv: readonly string[], o: { hidden?: boolean } = {}): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=OneMount',
    'Comment=Microsoft OneDrive as a folder, files on demand',
    `Exec=${desktopExec(o.hidden === false ? argv : [...argv, '--hidden'])}`,
    'Icon=onemount',
    'Terminal=false',
    'Categories=Network;FileTransfer;',
    'X-GNOME-Autostart-enabled=true',
    // protocol: GNOME's autostart key, in seconds: the session settles before the app starts.
    'X-GNOME-Autostart-Delay=5',
    '',
  ].join('\n');
}

export class Autostart {
  readonly file: string;

  /** `argv`: how to start this app again (the AppImage path, or electron + the main script). */
  constructor(
    dir: string,
    private readonly argv: readonly string[],
    /** `hidden: false` for a command without the desktop app's `--hidden` (browser mode's engine). */
    private readonly o: { hidden?: boolean } = {},
  ) {
    this.file = path.join(dir, AUTOSTART_FILE_NAME);
  }

  async isEnabled(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    return !/^Hidden\s*=\s*true\s*$/im.test(text) && !/^X-GNOME-Autostart-enabled\s*=\s*false\s*$/im.test(text);
  }

  async setEnabled(on: boolean): Promise<void> {
    if (!on) {
      await rm(this.file, { force: true });
      return;
    }
    await mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, autostartEntry(this.argv, this.o), { mode: 0o644 });
  }
}
