// Admin: users (create, invite, disable/enable, delete with a typed confirmation) and
// pending invitations (list, revoke).
import {get, post, del, seg} from './api.js';
import {h, page, table, msgLine, busy, field, fmtTime, badge} from './ui.js';

export async function render(root, {me}) {
  const msg = msgLine();
  const usersBox = h('div', {});
  const invBox = h('div', {});
  const inviteOut = h('div', {id: 'invite-out'});
  const confirmBox = h('div', {});
  let after = '';
  const pages = [];

  function confirmDelete(u) {
    const cm = msgLine();
    const input = field(`Type ${u.username} to confirm`, {name: 'confirm', autocomplete: 'off', id: 'confirm-delete'});
    const go = h('button', {type: 'submit', class: 'danger'}, `Delete ${u.username}`);
    const f = h('form', {class: 'card', 'aria-labelledby': 'del-title'},
      h('h2', {id: 'del-title'}, `Delete user ${u.username}?`),
      h('p', {}, 'Their sessions and tokens end, their runtime is deleted, and the account is removed. Usage and audit history stay. This cannot be undone.'),
      input, h('div', {class: 'actions'}, go,
        h('button', {type: 'button', class: 'secondary', onclick: () => confirmBox.replaceChildren()}, 'Cancel')), cm);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (f.elements.confirm.value !== u.username) {
        cm.set(`Type exactly ${u.username} to delete.`, 'error');
        return;
      }
      busy(go, cm, async () => {
        await del(`/users/${seg(u.username)}`);
        confirmBox.replaceChildren();
        msg.set(`User ${u.username} deleted.`, 'ok');
        await loadUsers();
      });
    });
    confirmBox.replaceChildren(f);
    f.elements.confirm.focus();
  }

  async function loadUsers() {
    const q = new URLSearchParams({limit: '50'});
    if (after) q.set('after', after);
    const r = await get(`/users?${q}`);
    const actions = (u) => {
      if (u.username === me.username) return h('span', {class: 'muted'}, 'you');
      const dis = u.state === 'active';
      return h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'secondary', 'aria-label': `${dis ? 'Disable' : 'Enable'} ${u.username}`,
          onclick: (ev) => busy(ev.target, msg, async () => {
            await post(`/users/${seg(u.username)}/${dis ? 'disable' : 'enable'}`);
            msg.set(`User ${u.username} ${dis ? 'disabled: their sessions ended' : 'enabled'}.`, 'ok');
            await loadUsers();
          })}, dis ? 'Disable' : 'Enable'),
        h('button', {type: 'button', class: 'danger', 'aria-label': `Delete ${u.username}`, onclick: () => confirmDelete(u)}, 'Delete'));
    };
    usersBox.replaceChildren(
      table('Users', [
        {label: 'User', value: (u) => u.username},
        {label: 'Role', value: (u) => u.role},
        {label: 'State', value: (u) => badge(u.state, u.state === 'active' ? 'ok' : 'bad')},
        {label: 'Runtime', value: (u) => u.runtime_phase || 'none'},
        {label: 'Created', value: (u) => fmtTime(u.created_at)},
        {label: 'Actions', value: actions},
      ], r.items || [], 'No users.'),
      h('div', {class: 'pager'},
        h('button', {type: 'button', class: 'secondary', disabled: !pages.length, onclick: () => {
          after = pages.pop() || '';
          loadUsers();
        }}, 'Previous'),
        h('button', {type: 'button', class: 'secondary', disabled: !r.next_after, onclick: () => {
          pages.push(after);
          after = r.next_after;
          loadUsers();
        }}, 'Next')));
  }

  async function loadInvites() {
    const r = await get('/invitations');
    invBox.replaceChildren(table('Pending invitations', [
      {label: 'User', value: (i) => i.username},
      {label: 'Role', value: (i) => i.role},
      {label: 'Invited by', value: (i) => i.created_by || '—'},
      {label: 'Expires', value: (i) => fmtTime(i.expires_at)},
      {label: 'Actions', value: (i) => h('button', {type: 'button', class: 'danger', 'aria-label': `Revoke the invitation of ${i.username}`,
        onclick: (ev) => busy(ev.target, msg, async () => {
          await del(`/invitations/${seg(i.username)}`);
          msg.set(`Invitation for ${i.username} revoked.`, 'ok');
          await loadInvites();
        })}, 'Revoke')},
    ], r.items || [], 'No pending invitations.'));
  }

  const roles = [['user', 'user'], ['admin', 'admin']];
  const cmsg = msgLine();
  const cf = h('form', {},
    h('div', {class: 'row'},
      field('Username', {name: 'username', required: true, maxlength: 63, autocomplete: 'off', pattern: '[a-z]([-a-z0-9]*[a-z0-9])?'}),
      field('Role', {tag: 'select', name: 'role', options: roles}),
      field('Password (empty: none yet)', {name: 'password', type: 'password', autocomplete: 'new-password', minlength: 8})),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Create user')), cmsg);
  cf.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const e = cf.elements;
    const body = {username: e.username.value.trim(), role: e.role.value};
    if (e.password.value) body.password = e.password.value;
    busy(cf.querySelector('button'), cmsg, async () => {
      await post('/users', body);
      cf.reset();
      cmsg.set(`User ${body.username} created.`, 'ok');
      await loadUsers();
    });
  });

  const imsg = msgLine();
  const inf = h('form', {},
    h('div', {class: 'row'},
      field('Username to invite', {name: 'username', required: true, maxlength: 63, autocomplete: 'off', id: 'invite-username'}),
      field('Role', {tag: 'select', name: 'role', options: roles}),
      field('Valid for (hours)', {name: 'ttl', type: 'number', min: 1, max: 720, value: 72, inputmode: 'numeric'})),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Invite')), imsg);
  inf.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const e = inf.elements;
    const body = {username: e.username.value.trim(), role: e.role.value, ttl_hours: Number(e.ttl.value || 72)};
    busy(inf.querySelector('button'), imsg, async () => {
      const r = await post('/invitations', body);
      const link = `${location.origin}/#/accept/${encodeURIComponent(r.token)}`;
      inf.reset();
      inviteOut.replaceChildren(h('section', {class: 'card', 'aria-labelledby': 'inv-link'},
        h('h3', {id: 'inv-link'}, `Invitation link for ${r.username}`),
        h('p', {}, `Send this link to ${r.username}; it works once, until ${fmtTime(r.expires_at)}. It is shown only now.`),
        h('code', {class: 'secret', id: 'invite-link'}, link)));
      imsg.set(`Invitation for ${r.username} created.`, 'ok');
      await loadInvites();
    });
  });

  page(root, 'Users', msg, confirmBox, usersBox,
    h('section', {class: 'card', 'aria-labelledby': 'u-create'}, h('h2', {id: 'u-create'}, 'Create a user'), cf),
    h('section', {class: 'card', 'aria-labelledby': 'u-invite'}, h('h2', {id: 'u-invite'}, 'Invite a user'), inf, inviteOut),
    h('h2', {}, 'Pending invitations'), invBox);
  await Promise.all([loadUsers(), loadInvites()]);
}
