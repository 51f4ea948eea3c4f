// Accepting an invitation: #/accept/<token>. The token stays in the URL's fragment, which
// browsers never send to a server; this page posts it with the chosen password.
import {post} from './api.js';
import {h, page, msgLine, busy, field} from './ui.js';

export async function render(root, {token}) {
  const msg = msgLine();
  const f = h('form', {},
    field('Choose a password (at least 8 characters)', {name: 'pw', type: 'password', autocomplete: 'new-password', required: true, minlength: 8}),
    field('Password again', {name: 'again', type: 'password', autocomplete: 'new-password', required: true, minlength: 8}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Create my account')), msg);
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const e = f.elements;
    if (e.pw.value !== e.again.value) {
      msg.set('The two passwords differ.', 'error');
      return;
    }
    busy(f.querySelector('button'), msg, async () => {
      const u = await post('/invitations/accept', {token: decodeURIComponent(token), password: e.pw.value});
      f.replaceChildren(h('p', {class: 'msg ok', role: 'status'}, `Welcome, ${u.username}. Your account is ready. `,
        h('a', {href: '/login?next=' + encodeURIComponent('/#/runtime'), id: 'accept-signin'}, 'Sign in')));
    });
  });
  page(root, 'Accept your invitation',
    token ? f : h('p', {class: 'msg error'}, 'This invitation link is incomplete: ask for a new one.'));
}
