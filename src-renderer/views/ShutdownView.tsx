import { SHUTDOWN_PHASES, type ShutdownPhase } from '../../src-shared/model/transfer.ts';
import { useActions, useEngine, useShutdown } from '../context.ts';
import { formatDuration } from '../format.ts';
import { formatCount } from '../totals.ts';
import { useNow } from '../use-now.ts';

const PHASE_LABEL: Record<ShutdownPhase, string> = {
  'stop-new-work': 'Stop new work',
  'stop-sync': 'Stop syncing',
  uploads: 'Finish uploads',
  downloads: 'Stop downloads',
  'save-state': 'Save state',
  unmount: 'Unmount the drive',
};

/** `saved`: the phase ended with work left that was persisted and resumes at the next start. */
type Mark = 'done' | 'saved' | 'current' | 'waiting' | 'cut-off';

const MARK_GLYPH: Record<Mark, string> = { done: '✓', saved: '↻', current: '…', waiting: '○', 'cut-off': '–' };
const MARK_WORDS: Record<Mark, string> = { done: ' (done)', saved: ' (saved for the next start)', current: ' (in progress)', waiting: ' (waiting)', 'cut-off': ' (not reported)' };

const uploadsWord = (n: number) => `${formatCount(n)} ${n === 1 ? 'upload' : 'uploads'}`;

export function ShutdownView() {
  const progress = useShutdown((s) => s.progress);
  const budgetMs = useShutdown((s) => s.budgetMs);
  const receivedAt = useShutdown((s) => s.receivedAt);
  const uploadsLeft = useShutdown((s) => s.uploadsLeft);
  const link = useEngine((s) => s.link.state);
  const ended = useShutdown((s) => s.ended);
  const { quitNow } = useActions();
  const phases = progress?.phases ?? SHUTDOWN_PHASES;
  const done = progress?.done === true;
  const finished = done || ended !== undefined;
  // A quarter second: the bar and "at most … left" move smoothly between the engine's events.
  const now = useNow(finished ? 60_000 : 250);
  const uploadsIndex = phases.indexOf('uploads');
  const uploadsPassed = progress !== undefined && (done || progress.phaseIndex > uploadsIndex);
  /** Uploads the end leaves for the next start: known once read after the phase, else the last count. */
  const resumeNext = uploadsPassed || ended !== undefined ? (uploadsLeft ?? 0) : 0;
  const markOf = (i: number): Mark => {
    if (done || (progress && i < progress.phaseIndex)) return i === uploadsIndex && resumeNext > 0 ? 'saved' : 'done';
    if (progress && i === progress.phaseIndex) return ended === undefined ? 'current' : 'cut-off';
    return ended === undefined ? 'waiting' : 'cut-off';
  };
  const detailOf = (phase: ShutdownPhase, mark: Mark): string => {
    if (phase === 'uploads' && mark === 'saved') return ` — ${uploadsWord(resumeNext)} saved for the next start`;
    if (mark !== 'current' || !progress) return '';
    const left = phase === 'uploads' && uploadsLeft !== undefined ? Math.min(uploadsLeft, progress.itemsLeft || uploadsLeft) : progress.itemsLeft;
    return left > 0 ? ` — ${formatCount(left)} left` : '';
  };
  const lastPhase = progress ? PHASE_LABEL[progress.phase] : undefined;
  const left = progress ? Math.max(0, progress.budgetLeftMs - Math.max(0, now - receivedAt)) : budgetMs;
  const share = budgetMs > 0 ? Math.max(0, Math.min(1, left / budgetMs)) : 1;
  // Only what the engine said: no count read during the shutdown means no claim either way.
  const resumeLine =
    uploadsLeft === undefined
      ? undefined
      : resumeNext > 0
        ? `${uploadsWord(resumeNext)} will continue at the next start.`
        : 'Every change was uploaded.';
  return (
    <main className="shutdown" data-testid="shutdown" aria-labelledby="shutdown-title">
      <h1 id="shutdown-title">{finished ? 'OneMount has stopped' : 'Finishing up before quitting'}</h1>
      <ol className="phases">
        {phases.map((phase, i) => {
          const mark = markOf(i);
          return (
            <li key={phase} className={`phase phase-${mark}`} data-testid={`phase-${phase}`} data-mark={mark} aria-current={mark === 'current' ? 'step' : undefined}>
              <span className="phase-mark" aria-hidden="true">
                {MARK_GLYPH[mark]}
              </span>
              <span>
                {PHASE_LABEL[phase]}
                {detailOf(phase, mark)}
              </span>
              <span className="visually-hidden">{MARK_WORDS[mark]}</span>
            </li>
          );
        })}
      </ol>
      {!finished && (
        <>
          <div className="bar budget-bar" role="meter" aria-label="Time budget left" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(share * 100)}>
            <div className="bar-fill bar-fill-linear" style={{ width: `${share * 100}%` }} />
          </div>
          <p className="muted" data-testid="budget-left">
            {progress ? `At most ${formatDuration(left / 1000)} left.` : 'Asking the engine to stop…'}
          </p>
          <button type="button" className="danger" disabled={link !== 'connected'} onClick={() => void quitNow()}>
            Quit now
          </button>
          <p className="muted">Unfinished uploads resume next time.</p>
        </>
      )}
      {finished && resumeLine && (
        <p className="resume-line" data-testid="shutdown-resume">
          {resumeLine}
        </p>
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
