import { useState, type FormEvent } from 'react';
import type { Settings } from '../../src-shared/ipc/desktop-calls.ts';
import { useActions, useEngine, usePanel, useView } from '../context.ts';
import { formatBytes } from '../format.ts';

const GB = 1e9;

function SettingsForm({ settings }: { settings: Settings }) {
  const { updateSettings } = useActions();
  const [draft, setDraft] = useState(settings);
  const save = (e: FormEvent) => {
    e.preventDefault();
    const { mountpoint: _mountpoint, ...update } = draft;
    void updateSettings(update);
  };
  return (
    <form className="settings-form" onSubmit={save}>
      <label>
        Cache limit (GB)
        <input type="number" min={0.1} step={0.1} value={draft.cacheLimitBytes / GB} onChange={(e) => setDraft({ ...draft, cacheLimitBytes: Math.round(Number(e.target.value) * GB) })} />
      </label>
      <label>
        Concurrent downloads
        <input type="number" min={1} max={32} value={draft.downloadConcurrency} onChange={(e) => setDraft({ ...draft, downloadConcurrency: Number(e.target.value) })} />
      </label>
      <label>
        Concurrent uploads
        <input type="number" min={1} max={32} value={draft.uploadConcurrency} onChange={(e) => setDraft({ ...draft, uploadConcurrency: Number(e.target.value) })} />
      </label>
      <label className="check">
        <input type="checkbox" checked={draft.startOnLogin} onChange={(e) => setDraft({ ...draft, startOnLogin: e.target.checked })} />
        Start on login
      </label>
      <label className="check">
        <input type="checkbox" checked={draft.notifications} onChange={(e) => setDraft({ ...draft, notifications: e.target.checked })} />
        Notifications
      </label>
      <label>
        Log level
        <select value={draft.logLevel} onChange={(e) => setDraft({ ...draft, logLevel: e.target.value as Settings['logLevel'] })}>
          {(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const).map((l) => (
            <option key={l}>{l}</option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary">
        Save
      </button>
    </form>
  );
}

export function SettingsView() {
  const settings = useView((s) => s.settings);
  const unavailable = useView((s) => s.settingsUnavailable);
  const mountpoint = useEngine((s) => s.status?.mountpoint);
  const cachedBytes = useEngine((s) => s.status?.cachedBytes);
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
      </dl>
      {settings ? <SettingsForm settings={settings} /> : <p className="muted">{unavailable ? `Other settings cannot be changed here: ${unavailable}.` : 'Loading settings…'}</p>}
    </main>
  );
}
