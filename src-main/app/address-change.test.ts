import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { openTempStore, ROOT, type TempStore } from '../store/testing/temp-store.ts';
import { followAddressChange } from './address-change.ts';

let temp: TempStore;
beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsert(ROOT);
});
afterEach(() => temp.dispose());

describe('followAddressChange', () => {
  it('moves the delta link to the new address and restarts upload sessions made at the old one', () => {
    const { store } = temp;
    const logger = createMemoryLogger('warn', 'address');
    followAddressChange(store, 'http://127.0.0.1:4000/v1.0', logger.logger);
    store.driveState.set('deltaLink', 'http://127.0.0.1:4000/v1.0/me/drive/root/delta?token=abc');
    const entry = store.journal.append({ kind: 'write', itemId: 'ROOT' });
    store.journal.updateSession(entry.seq, { sessionUrl: 'http://127.0.0.1:4001/up/xyz', confirmedOffset: 327680 });

    // The same address: nothing changes.
    followAddressChange(store, 'http://127.0.0.1:4000/v1.0/', logger.logger);
    expect(store.journal.get(entry.seq)?.sessionUrl).toBe('http://127.0.0.1:4001/up/xyz');

    followAddressChange(store, 'http://127.0.0.1:5000/v1.0', logger.logger);
    expect(store.driveState.get('deltaLink')).toBe('http://127.0.0.1:5000/v1.0/me/drive/root/delta?token=abc');
    expect(store.journal.get(entry.seq)).toMatchObject({ sessionUrl: null, confirmedOffset: 0 });
    expect(store.driveState.get('graphUrl')).toBe('http://127.0.0.1:5000/v1.0');
  });
});
