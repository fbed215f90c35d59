import { SHUTDOWN_PHASES, type ShutdownPhase } from '../../src-shared/model/transfer.ts';
import { useActions, useEngine, useShutdown } from '../context.ts';
import { formatDuration } from '../format.ts';

const PHASE_LABEL: Record<ShutdownPhase, string> = {
  'stop-new-work': 'Stop new work',
  'stop-sync': 'Stop syncing',
  uploads: 'Finish uploads',
  downloads: 'Stop downloads',
  'save-state': 'Save state',
  unmount: 'Unmount the drive',
};

type Mark = 'done' | 'current' | 'waiting' | 'cut-off';

export function ShutdownView() {
  const progress = useShutdown((s) => s.progress);
  const budgetMs = useShutdown((s) => s.budgetMs);
  const link = useEngine((s) => s.link.state);
  const ended = useShutdown((s) => s.ended);
  const { quitNow } = useActions();
  const phases = progress?.phases ?? SHUTDOWN_PHASES;
  const done = progress?.done === true;
  const finished = done || ended !== undefined;
  const markOf = (i: number): Mark => {
    if (done || (progress && i < progress.phaseIndex)) return 'done';
    if (progress && i === progress.phaseIndex) return ended === undefined ? 'current' : 'cut-off';
    return ended === undefined ? 'waiting' : 'cut-off';
  };
  const lastPhase = progress ? PHASE_LABEL[progress.phase] : undefined;
  const left = progress?.budgetLeftMs ?? budgetMs;
  const share = budgetMs > 0 ? Math.max(0, Math.min(1, left / budgetMs)) : 1;
  return (
    <main className="shutdown" data-testid="shutdown" aria-labelledby="shutdown-title">
      <h1 id="shutdown-title">{finished ? 'OneMount has stopped' : 'Finishing up before quitting'}</h1>
      <ol className="phases">
        {phases.map((phase, i) => {
          const mark = markOf(i);
          const itemsLeft = mark === 'current' && progress && progress.itemsLeft > 0 ? ` — ${progress.itemsLeft} left` : '';
          return (
            <li key={phase} className={`phase phase-${mark}`} data-testid={`phase-${phase}`} data-mark={mark} aria-current={mark === 'current' ? 'step' : undefined}>
              <span className="phase-mark" aria-hidden="true">
                {mark === 'done' ? '✓' : mark === 'current' ? '…' : mark === 'cut-off' ? '–' : '○'}
              </span>
              <span>
                {PHASE_LABEL[phase]}
                {itemsLeft}
              </span>
              <span className="visually-hidden">{mark === 'done' ? ' (done)' : mark === 'current' ? ' (in progress)' : mark === 'cut-off' ? ' (not reported)' : ' (waiting)'}</span>
            </li>
          );
        })}
      </ol>
      {!finished && (
        <>
          <div className="bar budget-bar" role="meter" aria-label="Time budget left" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(share * 100)}>
            <div className="bar-fill" style={{ width: `${Math.round(share * 100)}%` }} />
          </div>
          <p className="muted">{progress ? `At most ${formatDuration(left / 1000)} left.` : 'Asking the engine to stop…'}</p>
          <button type="button" className="danger" disabled={link !== 'connected'} onClick={() => void quitNow()}>
            Quit now
          </button>
          <p className="muted">Unfinished uploads resume next time.</p>
        </>
      )}
      {done && <p className="muted">Everything unfinished was saved and resumes the next time OneMount starts. You can close this window.</p>}
      {!done && ended !== undefined && (
        <p className="muted" data-testid="shutdown-ended">
          The engine closed its connection{lastPhase ? ` during “${lastPhase}”` : ''} ({ended}). Anything unfinished resumes the next time OneMount starts. You can close this window.
        </p>
      )}
    </main>
  );
}
