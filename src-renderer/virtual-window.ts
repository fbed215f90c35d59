/**
 * Which rows of a long list to render: the ones in view plus a few either side, so scrolling never
 * shows a gap. Fixed row height keeps this O(1) however long the list is (10 000 queued uploads).
 */
export interface WindowInput {
  count: number;
  rowHeight: number;
  scrollTop: number;
  viewportHeight: number;
  /** Rows rendered beyond each edge. */
  overscan: number;
}

/** Half-open range [start, end) of row indexes to render. */
export function visibleRows({ count, rowHeight, scrollTop, viewportHeight, overscan }: WindowInput): { start: number; end: number } {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const inView = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(count - 1, first) - overscan);
  const end = Math.min(count, first + inView + overscan);
  return { start, end: Math.max(start, end) };
}
