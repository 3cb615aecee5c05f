// The page's lists are tables with a caption and column headers, so screen readers announce
// each cell with its column; a list without entries says so in one full-width row.
import { el } from '../dom.js';

export interface DataTable {
  root: HTMLTableElement;
  /** Replaces the rows; `empty` is shown when there are none. */
  show(rows: HTMLTableRowElement[], empty: string): void;
}

export function dataTable(caption: string, columns: readonly string[]): DataTable {
  const body = el('tbody');
  const root = el(
    'table',
    { class: 'data' },
    el('caption', { class: 'visually-hidden' }, caption),
    el('thead', {}, el('tr', {}, ...columns.map((c) => el('th', { scope: 'col' }, c)))),
    body,
  );
  return {
    root,
    show(rows, empty) {
      body.replaceChildren(
        ...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: columns.length, class: 'empty' }, empty))]),
      );
    },
  };
}

export function tableRow(...cells: Array<Node | string>): HTMLTableRowElement {
  return el('tr', {}, ...cells.map((c) => el('td', {}, c)));
}

/** A stored time (ISO 8601) in the reader's locale, with the exact value on hover. */
export function when(iso: string): HTMLElement {
  return el('time', { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}
