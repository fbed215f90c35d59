import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { useActions, useEngine, usePanel } from '../context.ts';

const HOUR = 3600_000;
const PAUSES: Array<[string, number | undefined]> = [
  ['2 hours', 2 * HOUR],
  ['8 hours', 8 * HOUR],
  ['24 hours', 24 * HOUR],
  ['Until I resume', undefined],
];

/** 16 px line icons: in a narrow window (or at 200 % zoom) the footer shows only these. */
const ICONS = {
  pause: 'M6 4v8M10 4v8',
  resume: 'M5 3.5v9l7-4.5z',
  sync: 'M13 8a5 5 0 0 1-9 3m-1-3a5 5 0 0 1 9-3m1-2v3h-3M3 14v-3h3',
  settings: 'M8 5.5a2.5 2.5 0 1 1 0 5 2.5 2.5 0 0 1 0-5zM8 1.5v2m0 9v2M1.5 8h2m9 0h2M3.4 3.4l1.4 1.4m6.4 6.4 1.4 1.4m0-9.2-1.4 1.4m-6.4 6.4-1.4 1.4',
  quit: 'M8 2v6M4.5 4.5a5 5 0 1 0 7 0',
  folder: 'M1.5 4V13h13V5.5H7.5L6 4z',
} as const;

/** `iconOnly`: the name is for screen readers and the tooltip only, whatever the width. */
function Label({ icon, children, iconOnly = false }: { icon: keyof typeof ICONS; children: ReactNode; iconOnly?: boolean }) {
  return (
    <>
      <svg className="footer-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
        <path d={ICONS[icon]} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <span className={iconOnly ? 'visually-hidden' : 'footer-label'}>{children}</span>
    </>
  );
}

/**
 * "Pause syncing ▸": a menu button as the WAI-ARIA pattern has it — arrows, Home and End move
 * between the items, Escape closes and gives focus back to the button, Tab or a click outside closes.
 */
function PauseMenu() {
  const [open, setOpen] = useState(false);
  const actions = useActions();
  const anchor = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const items = () => [...(menu.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? [])];
  useEffect(() => {
    if (!open) return;
    items()[0]?.focus();
    const outside = (e: PointerEvent) => {
      if (!anchor.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', outside);
    return () => document.removeEventListener('pointerdown', outside);
  }, [open]);
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    const list = items();
    const at = list.indexOf(document.activeElement as HTMLButtonElement);
    const go = (i: number) => list[(i + list.length) % list.length]?.focus();
    switch (e.key) {
      case 'Escape':
        close(true);
        break;
      case 'ArrowDown':
        go(at + 1);
        break;
      case 'ArrowUp':
        go(at - 1);
        break;
      case 'Home':
        go(0);
        break;
      case 'End':
        go(list.length - 1);
        break;
      case 'Tab':
        close(false);
        return;
      default:
        return;
    }
    e.preventDefault();
  };
  return (
    <div className="menu-anchor" ref={anchor}>
      <button
        type="button"
        ref={button}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label="Pause syncing ▸"
        onClick={() => setOpen(!open)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        <Label icon="pause">Pause ▸</Label>
      </button>
      {open && (
        <div className="menu" role="menu" aria-label="Pause syncing for" ref={menu} onKeyDown={onKey}>
          {PAUSES.map(([label, ms]) => (
            <button
              key={label}
              type="button"
              role="menuitem"
              tabIndex={-1}
              onClick={() => {
                close(true);
                void actions.pause(ms);
              }}
            >
              {label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

export function Footer() {
  const paused = useEngine((s) => s.status?.pause?.paused ?? false);
  const connected = useEngine((s) => s.link.state === 'connected');
  const { stores, actions } = usePanel();
  return (
    <footer className="footer">
      {paused ? (
        <button type="button" aria-label="Resume syncing" onClick={() => void actions.resume()}>
          <Label icon="resume">Resume</Label>
        </button>
      ) : (
        <PauseMenu />
      )}
      <button type="button" aria-label="Sync now" disabled={!connected} onClick={() => void actions.syncNow()}>
        <Label icon="sync">Sync now</Label>
      </button>
      <button type="button" aria-label="Open folder" title="Open folder" disabled={!connected} onClick={() => void actions.openFolder()}>
        <Label icon="folder" iconOnly>
          Open folder
        </Label>
      </button>
      <button type="button" aria-label="Settings…" title="Settings" onClick={() => stores.view.getState().show('settings')}>
        <Label icon="settings" iconOnly>
          Settings
        </Label>
      </button>
      <button type="button" aria-label="Quit OneMount" title="Quit OneMount" disabled={!connected} onClick={() => void actions.requestQuit()}>
        <Label icon="quit" iconOnly>
          Quit
        </Label>
      </button>
    </footer>
  );
}
