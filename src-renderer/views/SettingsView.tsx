import { useState, type FormEvent } from 'react';
import { MIN_BANDWIDTH_LIMIT, type Settings } from '../../src-shared/ipc/desktop-calls.ts';
import { useActions, useEngine, usePanel, useView } from '../context.ts';
import { formatBytes } from '../format.ts';
import { bytesOfGb, bytesOfMbps, gbOfBytes, indexerLine, mbpsOfBytes, parsePrograms, programsText } from '../settings-form.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../../src-shared/model/indexer-programs.ts';

type Outcome = { kind: 'idle' } | { kind: 'saving' } | { kind: 'saved' } | { kind: 'failed' };

function SettingsForm({ settings }: { settings: Settings }) {
  const { updateSettings } = useActions();
  const [draft, setDraft] = useState(settings);
  // The cache field keeps what the person typed: rounding it while they type would fight them.
  const [cacheGb, setCacheGb] = useState(() => gbOfBytes(settings.cacheLimitBytes));
  const [upText, setUpText] = useState(() => mbpsOfBytes(settings.uploadLimitBytesPerSecond));
  const [downText, setDownText] = useState(() => mbpsOfBytes(settings.downloadLimitBytesPerSecond));
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });
  // The list as typed (blank lines and all) until it is saved.
  const [programs, setPrograms] = useState(() => programsText(settings.indexerPrograms ?? []));
  const edit = (next: Settings) => {
    setDraft(next);
    setOutcome({ kind: 'idle' });
  };
  const cacheBytes = bytesOfGb(cacheGb);
  const upBytes = bytesOfMbps(upText, MIN_BANDWIDTH_LIMIT);
  const downBytes = bytesOfMbps(downText, MIN_BANDWIDTH_LIMIT);
  const parsed = parsePrograms(programs);
  const programsBad = 'bad' in parsed ? parsed.bad : undefined;
  const valid = cacheBytes !== undefined && upBytes !== undefined && downBytes !== undefined && programsBad === undefined;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (cacheBytes === undefined || upBytes === undefined || downBytes === undefined || 'bad' in parsed) return;
    const { mountpoint: _mountpoint, ...update } = draft;
    setOutcome({ kind: 'saving' });
    const saved = await updateSettings({
      ...update,
      cacheLimitBytes: cacheBytes,
      uploadLimitBytesPerSecond: upBytes,
      downloadLimitBytesPerSecond: downBytes,
      ...(draft.indexerPrograms !== undefined ? { indexerPrograms: parsed.programs } : {}),
    });
    if (!saved) {
      setOutcome({ kind: 'failed' });
      return;
    }
    setDraft(saved);
    setCacheGb(gbOfBytes(saved.cacheLimitBytes));
    setUpText(mbpsOfBytes(saved.uploadLimitBytesPerSecond));
    setDownText(mbpsOfBytes(saved.downloadLimitBytesPerSecond));
    setPrograms(programsText(saved.indexerPrograms ?? []));
    setOutcome({ kind: 'saved' });
  };
  return (
    <form className="settings-form" onSubmit={(e) => void save(e)} noValidate>
      <label>
        Cache limit (GB)
        {/* step "any": a limit in bytes is rarely a round number of tenths of a GB, and a stepped field would refuse to submit it. */}
        <input
          type="number"
          inputMode="decimal"
          min={0.1}
          step="any"
          value={cacheGb}
          aria-invalid={cacheBytes === undefined}
          aria-describedby="cache-limit-hint"
          onChange={(e) => {
            setCacheGb(e.target.value);
            setOutcome({ kind: 'idle' });
          }}
        />
        <span id="cache-limit-hint" className={cacheBytes === undefined ? 'field-error' : 'muted field-hint'}>
          {cacheBytes === undefined ? 'Enter a size of at least 0.1 GB.' : `${formatBytes(cacheBytes)} of downloaded files are kept on this device.`}
        </span>
      </label>
      <label>
        Concurrent downloads
        <input type="number" min={1} max={32} value={draft.downloadConcurrency} onChange={(e) => edit({ ...draft, downloadConcurrency: Number(e.target.value) })} />
      </label>
      <label>
        Concurrent uploads
        <input type="number" min={1} max={32} value={draft.uploadConcurrency} onChange={(e) => edit({ ...draft, uploadConcurrency: Number(e.target.value) })} />
      </label>
      {(
        [
          ['Upload limit (MB/s)', 'upload-limit-hint', upText, setUpText, upBytes, 'uploads'],
          ['Download limit (MB/s)', 'download-limit-hint', downText, setDownText, downBytes, 'downloads'],
        ] as const
      ).map(([label, hint, text, setText, bytes, what]) => (
        <label key={hint}>
          {label}
          <input
            type="text"
            inputMode="decimal"
            placeholder="No limit"
            value={text}
            aria-invalid={bytes === undefined}
            aria-describedby={hint}
            onChange={(e) => {
              setText(e.target.value);
              setOutcome({ kind: 'idle' });
            }}
          />
          <span id={hint} className={bytes === undefined ? 'field-error' : 'muted field-hint'}>
            {bytes === undefined
              ? `Enter a rate of at least ${Math.ceil(MIN_BANDWIDTH_LIMIT / 1e4) / 100} MB/s, or leave it empty for no limit.`
              : bytes === 0
                ? `All ${what} as fast as the connection allows.`
                : `All ${what} together at most ${formatBytes(bytes)}/s, applied at once.`}
          </span>
        </label>
      ))}
      <label className="check">
        <input type="checkbox" checked={draft.startOnLogin} onChange={(e) => edit({ ...draft, startOnLogin: e.target.checked })} />
        Start on login
      </label>
      <label className="check">
        <input type="checkbox" checked={draft.notifications} onChange={(e) => edit({ ...draft, notifications: e.target.checked })} />
        Notifications
      </label>
      {draft.refuseIndexers !== undefined && (
        <label className="check">
          <input type="checkbox" checked={draft.refuseIndexers} onChange={(e) => edit({ ...draft, refuseIndexers: e.target.checked })} />
          Keep indexers and thumbnailers from downloading files
        </label>
      )}
      {draft.indexerPrograms !== undefined && (
        <>
          <label>
            Indexers and thumbnailers (one program per line)
            <textarea
              rows={5}
              spellCheck={false}
              value={programs}
              disabled={draft.refuseIndexers === false}
              aria-invalid={programsBad !== undefined}
              aria-describedby="indexer-programs-hint"
              onChange={(e) => {
                setPrograms(e.target.value);
                setOutcome({ kind: 'idle' });
              }}
            />
            <span id="indexer-programs-hint" className={programsBad ? 'field-error' : 'muted field-hint'}>
              {programsBad ?? 'They get “permission denied” for files that are not on this device; your own programs read them, and files on this device are read by anyone.'}
            </span>
          </label>
          <button
            type="button"
            disabled={draft.refuseIndexers === false}
            onClick={() => {
              setPrograms(programsText(DEFAULT_INDEXER_PROGRAMS));
              setOutcome({ kind: 'idle' });
            }}
          >
            Restore the default list
          </button>
        </>
      )}
      <label>
        Log level
        <select value={draft.logLevel} onChange={(e) => edit({ ...draft, logLevel: e.target.value as Settings['logLevel'] })}>
          {(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const).map((l) => (
            <option key={l}>{l}</option>
          ))}
        </select>
      </label>
      <div className="save-line">
        <button type="submit" className="primary" disabled={!valid || outcome.kind === 'saving'}>
          Save
        </button>
        <span className="save-outcome" role="status" data-testid="settings-outcome">
          {outcome.kind === 'saving' ? 'Saving…' : outcome.kind === 'saved' ? 'Saved' : outcome.kind === 'failed' ? 'Not saved (see the message above)' : ''}
        </span>
      </div>
    </form>
  );
}

export function SettingsView() {
  const settings = useView((s) => s.settings);
  const unavailable = useView((s) => s.settingsUnavailable);
  const mountpoint = useEngine((s) => s.status?.mountpoint);
  const cachedBytes = useEngine((s) => s.status?.cachedBytes);
  const indexers = indexerLine(useEngine((s) => s.status?.indexers));
  const { stores, actions } = usePanel();
  return (
    <main className="settings" aria-labelledby="settings-title" data-testid="settings">
      <div className="settings-head">
        <button type="button" className="plain" onClick={() => stores.view.getState().show('panel')} aria-label="Back to transfers">
          ←
        </button>
        <h1 id="settings-title">Settings</h1>
      </div>
      <dl className="facts">
        <dt>Mount point</dt>
        <dd>{mountpoint ?? '—'}</dd>
        <dt>Cache in use</dt>
        <dd>
          {cachedBytes === undefined ? '—' : formatBytes(cachedBytes)}
          {settings && ` of ${formatBytes(settings.cacheLimitBytes)}`}{' '}
          <button type="button" onClick={() => void actions.freeUpSpace()}>
            Free up space
          </button>
        </dd>
        {indexers !== undefined && (
          <>
            <dt>Indexers</dt>
            <dd data-testid="indexer-refusals">{indexers}</dd>
          </>
        )}
      </dl>
      {settings ? <SettingsForm settings={settings} /> : <p className="muted">{unavailable ? `Other settings cannot be changed here: ${unavailable}.` : 'Loading settings…'}</p>}
    </main>
  );
}
