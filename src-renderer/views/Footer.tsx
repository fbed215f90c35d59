import { useEffect, useRef, useState } from 'react';
import { useActions, useEngine, usePanel } from '../context.ts';

const HOUR = 3600_000;
const PAUSES: Array<[string, number | undefined]> = [
  ['2 hours', 2 * HOUR],
  ['8 hours', 8 * HOUR],
  ['24 hours', 24 * HOUR],
  ['Until I resume', undefined],
];

function PauseMenu() {
  const [open, setOpen] = useState(false);
  const actions = useActions();
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (open) menu.current?.querySelector('button')?.focus();
  }, [open]);
  return (
    <div className="menu-anchor">
      <button type="button" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)}>
        Pause syncing ▸
      </button>
      {open && (
        <div
          className="menu"
          role="menu"
          aria-label="Pause syncing for"
          ref={menu}
          onKeyDown={(e) => {
            if (e.key === 'Escape') setOpen(false);
          }}
        >
          {PAUSES.map(([label, ms]) => (
            <button
              key={label}
              type="button"
              role="menuitem"
              onClick={() => {
                setOpen(false);
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
        <button type="button" onClick={() => void actions.resume()}>
          Resume syncing
        </button>
      ) : (
        <PauseMenu />
      )}
      <button type="button" disabled={!connected} onClick={() => void actions.syncNow()}>
        Sync now
      </button>
      <button type="button" onClick={() => stores.view.getState().show('settings')}>
        Settings…
      </button>
      <button type="button" disabled={!connected} onClick={() => void actions.quit()}>
        Quit OneMount
      </button>
    </footer>
  );
}
