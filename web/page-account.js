// Account: change password, sign out, sign out everywhere.
import {post, put, del} from './api.js';
import {h, page, msgLine, busy, field, facts, fmtTime} from './ui.js';

export async function render(root, {me}) {
  const pmsg = msgLine();
  const smsg = msgLine();
  const pf = h('form', {},
    field('Current password', {name: 'current', type: 'password', autocomplete: 'current-password', required: true}),
    field('New password (at least 8 characters)', {name: 'next', type: 'password', autocomplete: 'new-password', required: true, minlength: 8}),
    field('New password again', {name: 'again', type: 'password', autocomplete: 'new-password', required: true, minlength: 8}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Change password')), pmsg);
  pf.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const e = pf.elements;
    if (e.next.value !== e.again.value) {
      pmsg.set('The two new passwords differ.', 'error');
      e.again.focus();
      return;
    }
    busy(pf.querySelector('button'), pmsg, async () => {
      await put('/users/me/password', {current_password: e.current.value, new_password: e.next.value});
      pf.reset();
      pmsg.set('Password changed. Your other sessions have ended.', 'ok');
    });
  });
  const out = h('button', {type: 'button', class: 'secondary', id: 'sign-out'}, 'Sign out');
  const everywhere = h('button', {type: 'button', class: 'danger', id: 'sign-out-all'}, 'Sign out everywhere');
  out.addEventListener('click', () => busy(out, smsg, async () => {
    await post('/auth/logout');
    location.assign('/login?next=' + encodeURIComponent('/#/runtime'));
  }));
  everywhere.addEventListener('click', () => busy(everywhere, smsg, async () => {
    await del(`/users/${encodeURIComponent(me.username)}/sessions`);
    location.assign('/login?next=' + encodeURIComponent('/#/runtime'));
  }));
  page(root, 'Account',
    facts([['User', me.username], ['Role', me.role], ['Session ends', fmtTime(me.session_expires_at)]]),
    h('section', {class: 'card', 'aria-labelledby': 'acc-pw'}, h('h2', {id: 'acc-pw'}, 'Change password'), pf),
    h('section', {class: 'card', 'aria-labelledby': 'acc-out'}, h('h2', {id: 'acc-out'}, 'Sign out'),
      h('p', {}, 'Sign out everywhere ends every browser session of yours, this one too. API tokens keep working; revoke them on the API tokens page.'),
      h('div', {class: 'actions'}, out, everywhere), smsg));
}
