import { useEngine, usePanel } from '../context.ts';

/** Outcomes of the person's own actions that did not work, until dismissed. */
export function Notices() {
  const notices = useEngine((s) => s.notices);
  const { stores } = usePanel();
  return (
    <div className="notices" role="status" aria-live="polite">
      {notices.map((n) => (
        <div className="notice" key={n.id} data-testid="notice">
          <span>{n.text}</span>
          <button type="button" className="plain" aria-label="Dismiss" onClick={() => stores.engine.getState().dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
