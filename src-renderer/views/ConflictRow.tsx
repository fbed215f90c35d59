import { memo } from 'react';
import type { Conflict, ConflictChoice } from '../../src-shared/ipc/desktop-calls.ts';
import { folderOf, nameOf } from '../format.ts';

const REASON: Record<Conflict['reason'], string> = {
  'both-modified': 'changed here and on another device',
  'remote-deleted': 'changed here, deleted on another device',
  'name-clash': 'another item took its name',
};

interface Props {
  c: Conflict;
  busy: boolean;
  onResolve: (id: number, choice: ConflictChoice) => void;
  onShow: (path: string) => void;
}

export const ConflictRow = memo(function ConflictRow({ c, busy, onResolve, onShow }: Props) {
  const name = nameOf(c.path);
  const choices: Array<[ConflictChoice, string]> = [
    ['keep-mine', 'Keep mine'],
    ['keep-theirs', 'Keep theirs'],
    ['keep-both', 'Keep both'],
  ];
  return (
    <div className="row conflict" data-testid="conflict-row" aria-label={`${name} — ${REASON[c.reason]}`}>
      <div className="row-main">
        <div className="row-title">
          <span className="name" title={c.path}>
            {name}
          </span>
          <span className="folder">— {REASON[c.reason]}</span>
        </div>
        <div className="row-figures">
          <span className="figures">{c.localCopyName ? `Your version is kept as “${c.localCopyName}” in ${folderOf(c.path)}` : folderOf(c.path)}</span>
        </div>
        <div className="actions">
          {choices.map(([choice, label]) => (
            <button key={choice} type="button" disabled={busy} onClick={() => onResolve(c.id, choice)} aria-label={`${label}: ${name}`}>
              {label}
            </button>
          ))}
          <button type="button" className="plain" onClick={() => onShow(c.path)} aria-label={`Show ${name} in folder`}>
            Show in folder
          </button>
        </div>
      </div>
    </div>
  );
});
