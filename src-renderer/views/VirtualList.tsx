import { useState, type ReactNode } from 'react';
import { visibleRows } from '../virtual-window.ts';

interface Props<T> {
  items: readonly T[];
  label: string;
  rowHeight: number;
  /** Rows shown before the list scrolls. */
  maxRows: number;
  keyOf: (item: T) => string | number;
  render: (item: T) => ReactNode;
}

/** A list that renders only the rows in view: 10 000 queued items cost as much as 20. */
export function VirtualList<T>({ items, label, rowHeight, maxRows, keyOf, render }: Props<T>) {
  const [scrollTop, setScrollTop] = useState(0);
  const height = Math.min(items.length, maxRows) * rowHeight;
  const { start, end } = visibleRows({ count: items.length, rowHeight, scrollTop, viewportHeight: height, overscan: 4 });
  const rows: ReactNode[] = [];
  for (let i = start; i < end; i++) {
    const item = items[i]!;
    rows.push(
      <div key={keyOf(item)} role="listitem" aria-setsize={items.length} aria-posinset={i + 1} className="vrow" style={{ transform: `translateY(${i * rowHeight}px)`, height: rowHeight }}>
        {render(item)}
      </div>,
    );
  }
  return (
    <div className="vlist" role="list" aria-label={label} tabIndex={items.length > maxRows ? 0 : -1} style={{ height }} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
      <div className="vlist-space" style={{ height: items.length * rowHeight }}>
        {rows}
      </div>
    </div>
  );
}
