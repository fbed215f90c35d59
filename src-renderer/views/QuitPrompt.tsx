import { useEffect, useRef } from 'react';
import { useActions, useTransfers, useView } from '../context.ts';
import { formatCount } from '../totals.ts';

/**
 * Quit with changes not uploaded yet asks first (docs/ui.md, Shutdown view): wait for them, or quit and
 * let them resume at the next start (true: pending uploads are persisted).
 */
export function QuitPrompt() {
  const flow = useView((s) => s.quitFlow);
  const left = useTransfers((s) => s.uploads.length);
  const actions = useActions();
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (flow === 'asking') first.current?.focus();
  }, [flow]);
  if (flow === 'none') return null;
  const files = `${formatCount(left)} ${left === 1 ? 'change is' : 'changes are'}`;
  if (flow === 'waiting') {
    return (
      <section className="quit-prompt" role="status" data-testid="quit-waiting" aria-label="Quitting after the uploads">
        <p>
          <strong>OneMount quits when the uploads finish</strong> — {files} left.
        </p>
        <div className="actions">
          <button type="button" onClick={() => void actions.quit()}>
            Quit now — they resume next time
          </button>
          <button type="button" onClick={actions.cancelQuit}>
            Keep running
          </button>
        </div>
      </section>
    );
  }
  return (
    <section
      className="quit-prompt"
      role="alertdialog"
      aria-labelledby="quit-title"
      aria-describedby="quit-detail"
      data-testid="quit-prompt"
      onKeyDown={(e) => {
        if (e.key === 'Escape') actions.cancelQuit();
      }}
    >
      <h2 id="quit-title">Quit with uploads pending?</h2>
      <p id="quit-detail">
        {files} not uploaded to OneDrive yet. They are saved on this device and resume the next time OneMount starts.
      </p>
      <div className="actions">
        <button type="button" className="primary" ref={first} onClick={() => void actions.quitAfterUploads()}>
          Wait for uploads
        </button>
        <button type="button" onClick={() => void actions.quit()}>
          Quit — they resume next time
        </button>
        <button type="button" className="plain" onClick={actions.cancelQuit}>
          Cancel
        </button>
      </div>
    </section>
  );
}
