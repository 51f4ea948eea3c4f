// My files: the runtime's workspace through /api/v1/users/{u}/files. Browse folders
// (breadcrumbs, folders first, "More" while the listing has a `continue`), upload files
// with a progress bar each (asking before replacing a name), download (folders as .tar),
// new folder, rename, delete. #/files?path=a/b&user=NAME (administrators: someone else's).
import {api, get, post, del, upload, ApiError} from './api.js';
import {h, page, msgLine, busy, field, fmtTime, table} from './ui.js';

const enc = (p) => p.split('/').map(encodeURIComponent).join('/');
const join = (dir, name) => (dir ? `${dir}/${name}` : name);

export function fmtSize(n) {
  n = Number(n || 0);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export async function render(root, {me, params}) {
  const user = params.get('user') || me.username;
  if (user !== me.username && me.role !== 'admin') {
    page(root, 'Not allowed', h('p', {role: 'alert'}, 'You can only see your own files. ',
      h('a', {href: '#/files'}, 'Go to my files')));
    return undefined;
  }
  const dir = (params.get('path') || '').split('/').filter(Boolean).join('/');
  const base = `/users/${encodeURIComponent(user)}/files`;
  const url = (p) => `${base}/${enc(p)}`;
  const link = (p) => {
    const q = new URLSearchParams();
    if (user !== me.username) q.set('user', user);
    if (p) q.set('path', p);
    return '#/files' + (q.toString() ? '?' + q : '');
  };

  const msg = msgLine();
  const list = h('div', {id: 'files-list'});
  const more = h('button', {type: 'button', class: 'secondary', hidden: true}, 'More');
  const editor = h('div', {});
  const uploads = h('ul', {class: 'uploads', 'aria-label': 'Uploads'});
  const picker = h('input', {type: 'file', id: 'files-pick', name: 'files', multiple: true});
  const upForm = h('form', {},
    h('div', {class: 'field'}, h('label', {for: 'files-pick'}, 'Files to upload'), picker),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Upload')), uploads);
  const mkForm = h('form', {},
    field('New folder name', {name: 'name', autocomplete: 'off', maxlength: 255}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Create folder')));
  const tools = h('div', {class: 'file-tools'},
    h('section', {class: 'card', 'aria-labelledby': 'files-up'}, h('h2', {id: 'files-up'}, 'Upload'), upForm),
    h('section', {class: 'card', 'aria-labelledby': 'files-mk'}, h('h2', {id: 'files-mk'}, 'New folder'), mkForm));

  const parts = dir ? dir.split('/') : [];
  const crumbs = h('nav', {class: 'path', 'aria-label': 'Folder path'}, h('ol', {class: 'crumbs'},
    h('li', {}, parts.length ? h('a', {href: link('')}, 'Workspace') : h('span', {'aria-current': 'page'}, 'Workspace')),
    parts.map((p, i) => h('li', {}, i === parts.length - 1 ? h('span', {'aria-current': 'page'}, p)
      : h('a', {href: link(parts.slice(0, i + 1).join('/'))}, p)))));
  page(root, user === me.username ? 'My files' : `Files of ${user}`, crumbs, msg, editor, list,
    h('div', {class: 'pager'}, more), tools);

  let entries = [];
  let next = '';

  // A listing that cannot be had (no runtime, stopped, no file service): the API's words,
  // and where to start the runtime when that is the cure.
  function unavailable(e) {
    tools.hidden = true;
    const rt = user === me.username ? '#/runtime' : `#/runtime?user=${encodeURIComponent(user)}`;
    const way = e.status === 404 && dir ? h('a', {href: link('')}, 'Back to the workspace')
      : e.status === 409 || e.status === 404 ? h('a', {href: rt}, 'Go to the runtime page to start it') : '';
    list.replaceChildren(h('div', {class: 'msg error', role: 'alert', id: 'files-unavailable'}, h('p', {}, e.message),
      way ? h('p', {}, way) : ''));
  }

  function show() {
    const sorted = [...entries].sort((a, b) => (a.type === 'dir') === (b.type === 'dir')
      ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type === 'dir' ? -1 : 1);
    list.replaceChildren(table(dir ? `Contents of ${dir}` : 'Contents of the workspace', [
      {label: 'Name', value: (e) => (e.type === 'dir'
        ? h('a', {href: link(join(dir, e.name)), class: 'dir'}, e.name + '/')
        : h('a', {href: '/api/v1' + url(join(dir, e.name)), download: e.name}, e.name))},
      {label: 'Size', num: true, value: (e) => (e.type === 'dir' ? '—' : fmtSize(e.size))},
      {label: 'Modified', value: (e) => fmtTime(e.modified)},
      {label: 'Actions', value: (e) => h('div', {class: 'row-actions'},
        e.type === 'dir' ? h('a', {class: 'button secondary', href: '/api/v1' + url(join(dir, e.name)) + '?archive=tar',
          download: e.name + '.tar', 'aria-label': `Download ${e.name} as .tar`}, '.tar') : '',
        h('button', {type: 'button', class: 'secondary', 'aria-label': `Rename ${e.name}`, onclick: () => rename(e)}, 'Rename'),
        h('button', {type: 'button', class: 'danger', 'aria-label': `Delete ${e.name}`, onclick: (ev) => remove(ev.target, e)}, 'Delete'))},
    ], sorted, 'This folder is empty.'));
    more.hidden = !next;
  }

  async function load(reset) {
    const q = new URLSearchParams({limit: '200'});
    if (!reset && next) q.set('continue', next);
    const r = await get(`${base}/${dir ? enc(dir) : ''}?${q}`);
    entries = reset ? r.entries || [] : entries.concat(r.entries || []);
    next = r.continue || '';
    tools.hidden = false;
    show();
  }

  async function refresh() {
    try {
      await load(true);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      unavailable(e);
    }
  }

  more.addEventListener('click', () => busy(more, msg, () => load(false)));

  function rename(e) {
    const f = h('form', {class: 'card'},
      field(`New name for ${e.name}`, {name: 'name', value: e.name, autocomplete: 'off', maxlength: 255}),
      h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Save name'),
        h('button', {type: 'button', class: 'secondary', onclick: () => editor.replaceChildren()}, 'Cancel')));
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = f.elements.name.value.trim();
      if (!name || name.includes('/')) {
        msg.set('A name cannot be empty or contain "/".', 'error');
        f.elements.name.focus();
        return;
      }
      if (name === e.name) {
        editor.replaceChildren();
        msg.set('Nothing to change.');
        return;
      }
      busy(f.querySelector('button[type=submit]'), msg, async () => {
        await post(url(join(dir, e.name)), {action: 'move', to: join(dir, name)});
        editor.replaceChildren();
        msg.set(`Renamed ${e.name} to ${name}.`, 'ok');
        await refresh();
      });
    });
    editor.replaceChildren(f);
    f.elements.name.focus();
    f.elements.name.select();
  }

  async function remove(button, e) {
    const folder = e.type === 'dir';
    if (!window.confirm(folder ? `Delete the folder ${e.name} and everything in it?` : `Delete ${e.name}?`)) return;
    await busy(button, msg, async () => {
      await del(url(join(dir, e.name)) + (folder ? '?recursive=true' : ''));
      msg.set(`Deleted ${e.name}.`, 'ok');
      await refresh();
    });
  }

  mkForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = mkForm.elements.name.value.trim();
    if (!name || name.includes('/')) {
      msg.set('Give the folder a name without "/".', 'error');
      mkForm.elements.name.focus();
      return;
    }
    busy(mkForm.querySelector('button'), msg, async () => {
      await post(url(join(dir, name)), {action: 'mkdir'});
      mkForm.reset();
      msg.set(`Folder ${name} created.`, 'ok');
      await refresh();
    });
  });

  // One file: ask before replacing an existing name, then PUT with a progress bar.
  async function send(file) {
    const path = join(dir, file.name);
    const bar = h('progress', {max: 100, value: 0, 'aria-label': `Upload of ${file.name}`});
    const state = h('span', {class: 'muted'}, 'checking…');
    uploads.append(h('li', {}, h('span', {class: 'name'}, file.name), bar, state));
    try {
      let exists = true;
      try {
        await api('HEAD', url(path));
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        exists = false;
      }
      if (exists && !window.confirm(`${file.name} already exists here. Replace it?`)) {
        bar.remove();
        state.textContent = 'not uploaded: the existing file is kept';
        return;
      }
      state.textContent = '0%';
      await upload(url(path) + (exists ? '?overwrite=true' : ''), file, (done, total) => {
        const pct = total ? Math.floor((done * 100) / total) : 100;
        bar.value = pct;
        state.textContent = `${pct}%`;
      });
      bar.value = 100;
      state.textContent = `done, ${fmtSize(file.size)}`;
      state.className = 'ok';
    } catch (e) {
      state.textContent = `failed: ${e.message}`;
      state.className = 'error';
      throw e;
    }
  }

  upForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const files = [...picker.files];
    if (!files.length) {
      msg.set('Choose one or more files first.', 'error');
      picker.focus();
      return;
    }
    uploads.replaceChildren();
    busy(upForm.querySelector('button'), msg, async () => {
      let failed = 0;
      for (const f of files) {
        try {
          await send(f);
        } catch (e) {
          failed++;
        }
      }
      upForm.reset();
      msg.set(failed ? `${failed} of ${files.length} uploads failed (see below).`
        : `Uploaded ${files.length} file${files.length > 1 ? 's' : ''}.`, failed ? 'error' : 'ok');
      await refresh();
    });
  });

  await refresh();
  return undefined;
}
