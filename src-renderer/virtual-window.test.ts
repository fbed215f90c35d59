import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { visibleRows } from './virtual-window.ts';

describe('visibleRows', () => {
  it('renders the rows in view plus the overscan', () => {
    expect(visibleRows({ count: 10_000, rowHeight: 50, scrollTop: 0, viewportHeight: 300, overscan: 3 })).toEqual({ start: 0, end: 10 });
    expect(visibleRows({ count: 10_000, rowHeight: 50, scrollTop: 5000, viewportHeight: 300, overscan: 3 })).toEqual({ start: 97, end: 110 });
    expect(visibleRows({ count: 10_000, rowHeight: 50, scrollTop: 499_700, viewportHeight: 300, overscan: 3 })).toEqual({ start: 9991, end: 10_000 });
    expect(visibleRows({ count: 0, rowHeight: 50, scrollTop: 0, viewportHeight: 300, overscan: 3 })).toEqual({ start: 0, end: 0 });
  });

  it('always covers the viewport and stays small, wherever the list is scrolled', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 2000 }), fc.double({ min: 0, max: 1, noNaN: true }), (count, rowHeight, viewportHeight, at) => {
        const maxScroll = Math.max(0, count * rowHeight - viewportHeight);
        const scrollTop = Math.floor(at * maxScroll);
        const { start, end } = visibleRows({ count, rowHeight, scrollTop, viewportHeight, overscan: 2 });
        // Scrolled to the very end of an empty viewport (height 0), no row is in view: the last is the nearest.
        const firstVisible = Math.min(count - 1, Math.floor(scrollTop / rowHeight));
        const lastVisible = Math.min(count - 1, Math.floor((scrollTop + viewportHeight - 1) / rowHeight));
        expect(start).toBeLessThanOrEqual(firstVisible);
        expect(end).toBeGreaterThan(Math.max(firstVisible, lastVisible));
        expect(end - start).toBeLessThanOrEqual(Math.ceil(viewportHeight / rowHeight) + 1 + 4);
      }),
      // fc.assert's random seed found [1, 1, 0, 1] once (a clean-clone run, 2026-12-06): kept as an example.
      { examples: [[1, 1, 0, 1]], numRuns: 500 },
    );
  });
});
