/// <reference lib="dom" />
/** The tree page: a lazily loaded, paged tree on the left, the selected node on the right. */
import { banner, fill, formatTime, h, table, toast } from './dom.js';
import { detectFormat, fromBase64, parse, render, toBase64, type DataFormat } from './format.js';
import { ApiFailure, apiGet, apiPost } from './http.js';

const PAGE = 200;

interface ChildEntry {
  name: string;
  numChildren: number;
  dataLength: number;
  ephemeral: boolean;
}
interface ChildPage {
  total: number;
  children: ChildEntry[];
}
interface NodeView {
  path: string;
  data: string;
  stat: Record<string, string | number>;
  acl: { scheme: string; id: string; perms: string }[] | { error: string };
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function baseName(path: string): string {
  return path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1);
}

/** The tree on screen, kept across selections so opened branches stay open. */
let mounted: { main: HTMLElement; treeBox: HTMLElement; nodeBox: HTMLElement } | null = null;
/** Opens a row's children (when closed); set per row by treeItem. */
const openers = new WeakMap<Element, () => void>();

export function treePage(main: HTMLElement, selected: string, navigate: (path: string) => void): void {
  const row = mounted?.main === main && main.contains(mounted.treeBox) ? mounted.treeBox.querySelector(`[data-path="${CSS.escape(selected)}"]`) : null;
  if (mounted !== null && row !== null) {
    // Selecting a node already shown: move the highlight, open it, show it.
    mounted.treeBox.querySelectorAll('.row.selected').forEach((r) => r.classList.remove('selected'));
    row.classList.add('selected');
    openers.get(row)?.();
    void showNode(mounted.nodeBox, selected, navigate);
    return;
  }
  const treeBox = h('div', { class: 'panel tree', 'data-testid': 'tree' });
  const nodeBox = h('div', { class: 'panel', 'data-testid': 'node' });
  mounted = { main, treeBox, nodeBox };
  fill(main, h('div', { class: 'split' }, treeBox, nodeBox));
  const rootList = h('ul');
  treeBox.append(rootList);
  // The root always has /zookeeper, so it opens like any node with children.
  rootList.append(treeItem('/', { name: '/', numChildren: 1, dataLength: 0, ephemeral: false }, selected, navigate, true));
  void showNode(nodeBox, selected, navigate);
}

/** One node of the tree; its children load when it is opened (or when it is on the selected path). */
function treeItem(path: string, entry: ChildEntry, selected: string, navigate: (path: string) => void, open = false): HTMLLIElement {
  const li = h('li');
  const twisty = h('span', { class: 'twisty' }, entry.numChildren > 0 ? '▸' : '');
  const row = h(
    'div',
    { class: `row${path === selected ? ' selected' : ''}`, 'data-path': path, 'data-testid': 'tree-row' },
    twisty,
    h('span', { class: 'name' }, baseName(path)),
    entry.numChildren > 0 && path !== '/' ? h('span', { class: 'count' }, `(${entry.numChildren})`) : null,
    entry.ephemeral ? h('span', { class: 'eph' }, 'ephemeral') : null,
  );
  li.append(row);
  let kids: HTMLElement | null = null;
  const toggle = (): void => {
    if (kids !== null) {
      kids.remove();
      kids = null;
      twisty.textContent = '▸';
      return;
    }
    twisty.textContent = '▾';
    kids = childList(path, entry.numChildren, selected, navigate);
    li.append(kids);
  };
  twisty.addEventListener('click', (e) => {
    e.stopPropagation();
    toggle();
  });
  row.addEventListener('click', () => navigate(path));
  if (entry.numChildren > 0) openers.set(row, () => kids === null && toggle());
  // Open the way down to the selected node, and the selected node itself.
  const onSelectedPath = selected === path || selected.startsWith(path === '/' ? '/' : `${path}/`);
  if (entry.numChildren > 0 && (open || onSelectedPath)) toggle();
  return li;
}

/** A node's children, a page at a time, with a filter once there are many. */
function childList(parent: string, count: number, selected: string, navigate: (path: string) => void): HTMLElement {
  const box = h('div');
  const ul = h('ul');
  let offset = 0;
  let filter = '';
  const more = h('div', { class: 'more', 'data-testid': 'load-more' });
  const load = async (): Promise<void> => {
    let page: ChildPage;
    try {
      page = await apiGet<ChildPage>('children', { path: parent, offset, limit: PAGE, filter });
    } catch (err) {
      box.append(banner('error', (err as Error).message));
      return;
    }
    for (const c of page.children) ul.append(treeItem(childPath(parent, c.name), c, selected, navigate));
    offset += page.children.length;
    const left = page.total - offset;
    more.textContent = left > 0 ? `load ${Math.min(PAGE, left)} more (${left} not shown)` : '';
    more.hidden = left <= 0;
  };
  more.addEventListener('click', () => void load());
  if (count > PAGE) {
    const input = h('input', { class: 'filter', placeholder: 'filter children…', 'data-testid': 'filter' });
    let timer: number | undefined;
    input.addEventListener('input', () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        filter = input.value;
        offset = 0;
        ul.replaceChildren();
        void load();
      }, 200);
    });
    box.append(input);
  }
  box.append(ul, more);
  void load();
  return box;
}

async function showNode(box: HTMLElement, path: string, navigate: (path: string) => void): Promise<void> {
  let node: NodeView;
  try {
    node = await apiGet<NodeView>('node', { path });
  } catch (err) {
    fill(box, h('h2', {}, path), banner('error', (err as Error).message));
    return;
  }
  const bytes = fromBase64(node.data);
  const version = Number(node.stat.version);
  let format: DataFormat = detectFormat(bytes);
  const editor = h('textarea', { 'data-testid': 'editor', spellcheck: 'false' });
  editor.value = render(bytes, format) ?? '';
  const select = h('select', { 'data-testid': 'format' }, ...(['text', 'json', 'hex'] as const).map((f) => h('option', { value: f }, f)));
  select.value = format;
  const messages = h('div');
  select.addEventListener('change', () => {
    // Switch views over the bytes as edited so far, when they are valid in the current view.
    let current = bytes;
    try {
      current = parse(editor.value, format);
    } catch {
      // Keep the bytes as read.
    }
    const next = select.value as DataFormat;
    const shown = render(current, next);
    if (shown === null) {
      select.value = format;
      fill(messages, banner('error', `the data is not valid ${next}`));
      return;
    }
    format = next;
    editor.value = shown;
    fill(messages);
  });
  const save = async (): Promise<void> => {
    let data: Uint8Array;
    try {
      data = parse(editor.value, format);
    } catch (err) {
      fill(messages, banner('error', `not saved: ${(err as Error).message}`));
      return;
    }
    try {
      await apiPost('set', { path, data: toBase64(data), version });
      toast(`saved ${path}`);
      await showNode(box, path, navigate);
    } catch (err) {
      if (err instanceof ApiFailure && err.code === 'BADVERSION') {
        const reload = h('button', { onclick: () => void showNode(box, path, navigate) }, 'Reload');
        fill(messages, banner('error', `Conflict: ${err.message}. Your edit was not written; reload to see the current data.`, 'conflict'), reload);
      } else fill(messages, banner('error', (err as Error).message));
    }
  };
  fill(
    box,
    h('h2', { 'data-testid': 'node-path' }, path),
    h(
      'div',
      { class: 'toolbar' },
      h('label', {}, 'View as ', select),
      h('button', { class: 'primary', 'data-testid': 'save', onclick: () => void save() }, 'Save'),
      h('button', { onclick: () => void showNode(box, path, navigate) }, 'Reload'),
      path === '/' ? null : h('button', { class: 'danger', 'data-testid': 'delete', onclick: () => void confirmDelete(path, version, Number(node.stat.numChildren), navigate) }, 'Delete…'),
      h('span', { class: 'muted', 'data-testid': 'version' }, `version ${version}, ${bytes.length} bytes`),
    ),
    messages,
    editor,
    h('div', { class: 'grid2' }, h('div', {}, h('h3', {}, 'Stat'), statTable(node.stat)), h('div', {}, h('h3', {}, 'ACL'), aclTable(node.acl))),
    createForm(path, navigate),
  );
}

function statTable(stat: Record<string, string | number>): HTMLElement {
  const show = (k: string, v: string | number): string => ((k === 'ctime' || k === 'mtime') && typeof v === 'number' ? `${formatTime(v)} (${v})` : String(v));
  return table(['field', 'value'], Object.entries(stat).map(([k, v]) => [k, h('span', { class: 'mono' }, show(k, v))]), 'stat');
}

function aclTable(acl: NodeView['acl']): HTMLElement {
  if (!Array.isArray(acl)) return banner('error', `ACL not readable: ${acl.error}`);
  return table(['scheme', 'id', 'perms'], acl.map((a) => [a.scheme, h('span', { class: 'mono' }, a.id), h('span', { class: 'mono' }, a.perms)]), 'acl');
}

function createForm(parent: string, navigate: (path: string) => void): HTMLElement {
  const name = h('input', { placeholder: 'child name', 'data-testid': 'create-name' });
  const mode = h('select', { 'data-testid': 'create-mode' }, h('option', { value: 'persistent' }, 'persistent'), h('option', { value: 'persistentSequential' }, 'persistent sequential'), h('option', { value: 'container' }, 'container'));
  const data = h('input', { placeholder: 'data (text)', 'data-testid': 'create-data' });
  const messages = h('div');
  const create = async (): Promise<void> => {
    try {
      const made = await apiPost<{ path: string }>('create', { path: childPath(parent, name.value), mode: mode.value, data: toBase64(new TextEncoder().encode(data.value)) });
      toast(`created ${made.path}`);
      navigate(made.path);
    } catch (err) {
      fill(messages, banner('error', (err as Error).message));
    }
  };
  return h('div', {}, h('h3', {}, `Create under ${parent}`), h('div', { class: 'toolbar' }, name, mode, data, h('button', { 'data-testid': 'create', onclick: () => void create() }, 'Create')), messages);
}

/** Asks first; a node with children is deleted with its whole subtree only once the count is confirmed. */
async function confirmDelete(path: string, version: number, numChildren: number, navigate: (path: string) => void): Promise<void> {
  let descendants = 0;
  if (numChildren > 0) descendants = Number((await apiGet<{ descendants: number }>('descendants', { path })).descendants);
  const text = descendants > 0 ? `Delete ${path} and all ${descendants} nodes under it? This cannot be undone.` : `Delete ${path} (version ${version})?`;
  const dialog = h('dialog', { 'data-testid': 'confirm' });
  const result = h('div');
  const yes = h('button', { class: 'danger', 'data-testid': 'confirm-yes' }, descendants > 0 ? `Delete ${descendants + 1} nodes` : 'Delete');
  const no = h('button', { onclick: () => dialog.close() }, 'Cancel');
  yes.addEventListener('click', async () => {
    try {
      const body = descendants > 0 ? { path, recursive: true } : { path, version };
      const done = await apiPost<{ deleted: number }>('delete', body);
      dialog.close();
      toast(`deleted ${done.deleted} node${done.deleted === 1 ? '' : 's'}`);
      navigate(parentOf(path));
    } catch (err) {
      fill(result, banner('error', (err as Error).message));
    }
  });
  dialog.append(h('p', {}, text), result, h('div', { class: 'toolbar' }, yes, no));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
