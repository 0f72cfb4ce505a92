// Beeldbel web shell: plain ES modules, hash routes (#/home, #/account, ...).
import { ApiError, call, hadSession, post, refresh, setSession, signOut, signedIn } from './api.js';
import {
  currentLanguage,
  formatDate,
  isoDate,
  savedLanguage,
  t,
  translateStatic,
  useLanguage,
} from './i18n.js';
import { agendaTitle, agendaView } from './agenda.js';
import { clientsTitle, clientsView } from './clients.js';
import { callRoomTitle, callRoomView, leaveCallRoom } from './staffcall.js';
import { announce, clearAnnouncement, data, h, markField } from './ui.js';

const SECTIONS = ['agenda', 'clients', 'calls', 'tablets', 'admin'];

const state = {
  me: null,
  // Sign-in flow: step is 'password', 'code', 'recovery', 'enrol' or 'codes'.
  flow: { step: 'password', challenge: null, enrolment: null, recoveryCodes: null },
  message: null, // { kind: 'alert' | 'notice', text } shown at the top of a view
  busy: false,
};

// DOM helpers -------------------------------------------------------------------------------

function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

function messageBox() {
  const message = state.message;
  if (!message) return h('div', { class: 'alert', role: 'alert' });
  if (message.kind === 'notice') return h('div', { class: 'notice', role: 'status' }, message.text);
  return h('div', { class: 'alert', role: 'alert' }, message.text);
}

function field(id, label, attrs = {}, hint = null) {
  const hintId = hint ? `${id}-hint` : null;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('input', { id, name: id, 'aria-describedby': hintId, 'data-hint': hintId, ...attrs }),
  );
}

// What went wrong, in words a user can act on.
function explain(error, context = 'general') {
  if (!(error instanceof ApiError)) return t('error.unexpected');
  if (error.status === 0) return t('error.network');
  if (error.status === 429) return t('error.tooMany');
  if (error.status >= 500) return t('error.server');
  if (error.code === 'session_expired') return t('error.sessionExpired');
  if (error.code === 'csrf_failed' || error.code === 'origin_not_allowed') {
    return t('error.reload');
  }
  if (error.status === 401 && context === 'password') return t('error.signInFailed');
  if (error.status === 401 && error.reason === 'challenge_invalid') return t('error.challengeExpired');
  if (error.status === 401 && context === 'code') return t('error.codeWrong');
  if (error.status === 401 && context === 'recovery') return t('error.recoveryWrong');
  if (error.status === 401) return t('error.sessionExpired');
  if (error.status === 403) return t('error.forbidden');
  return t('error.unexpected');
}

// Submitting forms --------------------------------------------------------------------------

async function submitting(form, busyText, work) {
  if (state.busy) return;
  state.busy = true;
  const button = form.querySelector('button[type="submit"]');
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = busyText;
  announce(busyText);
  try {
    await work();
  } finally {
    state.busy = false;
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = label;
    }
  }
}


// Marks empty required fields; returns false (and focuses the first) if any is empty.
function requireFilled(form, ids) {
  let first = null;
  for (const id of ids) {
    const input = form.querySelector(`#${id}`);
    const empty = input.value.trim() === '';
    markField(input, empty ? t('field.empty') : null);
    if (empty && !first) first = input;
  }
  if (first) {
    showMessage('alert', t('error.required'));
    first.focus();
    return false;
  }
  return true;
}

function showMessage(kind, text) {
  state.message = { kind, text };
  const main = document.getElementById('main');
  const box = main.querySelector('.alert, .notice');
  const fresh = messageBox();
  if (box) box.replaceWith(fresh);
}

// Views: signing in -------------------------------------------------------------------------

function signInView() {
  const step = state.flow.step;
  if (step === 'code' || step === 'recovery') return codeView(step);
  if (step === 'enrol') return enrolView();
  if (step === 'codes') return recoveryCodesView();
  const form = h(
    'form',
    { novalidate: true, id: 'sign-in-form' },
    field('username', t('signIn.username'), {
      type: 'text',
      autocomplete: 'username',
      autocapitalize: 'none',
      spellcheck: 'false',
      required: true,
    }),
    field('password', t('signIn.password'), {
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    }),
    h('button', { type: 'submit' }, t('signIn.submit')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!requireFilled(form, ['username', 'password'])) return;
    submitting(form, t('signIn.busy'), async () => {
      try {
        const answer = await post('/api/v1/auth/sign-in', {
          username: form.querySelector('#username').value.trim(),
          password: form.querySelector('#password').value,
        });
        state.flow = {
          step: answer.status === 'enrolment_required' ? 'enrol' : 'code',
          challenge: answer.challenge,
          enrolment: null,
          recoveryCodes: null,
        };
        state.message = null;
        render();
      } catch (error) {
        showMessage('alert', explain(error, 'password'));
        form.querySelector('#password').value = '';
        form.querySelector('#password').focus();
      }
    });
  });
  return [heading(t('signIn.title')), h('p', {}, t('signIn.intro')), messageBox(), form];
}

function restartSignIn() {
  state.flow = { step: 'password', challenge: null, enrolment: null, recoveryCodes: null };
  state.message = null;
  render();
}

async function sessionStarted(session) {
  setSession(session);
  await loadMe();
}

function codeView(step) {
  const recovery = step === 'recovery';
  const input = recovery
    ? field(
        'recovery-code',
        t('code.recoveryLabel'),
        { type: 'text', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' },
        t('code.recoveryHint'),
      )
    : field(
        'code',
        t('code.label'),
        {
          type: 'text',
          inputmode: 'numeric',
          autocomplete: 'one-time-code',
          maxlength: '6',
          class: 'code',
        },
        t('code.hint'),
      );
  const id = recovery ? 'recovery-code' : 'code';
  const form = h('form', { novalidate: true, id: 'code-form' }, input, h('button', { type: 'submit' }, t('code.submit')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!requireFilled(form, [id])) return;
    const value = form.querySelector(`#${id}`).value.replace(/\s+/g, '');
    submitting(form, t('code.busy'), async () => {
      try {
        const body = { challenge: state.flow.challenge };
        if (recovery) body.recovery_code = value;
        else body.code = value;
        const session = await post('/api/v1/auth/second-factor', body);
        state.flow = { step: 'password', challenge: null, enrolment: null, recoveryCodes: null };
        state.message = null;
        await sessionStarted(session);
        // Back to the page asked for before signing in, if it was one.
        const wanted = route();
        const section = wanted.split('/')[0];
        go(section === 'account' || section === 'call' || SECTIONS.includes(section) ? `#/${wanted}` : '#/home');
      } catch (error) {
        if (error instanceof ApiError && error.reason === 'challenge_invalid') {
          restartSignIn();
          showMessage('alert', explain(error, 'code'));
          return;
        }
        showMessage('alert', explain(error, recovery ? 'recovery' : 'code'));
        const box = form.querySelector(`#${id}`);
        box.value = '';
        markField(box, error.status === 401 ? t('field.codeWrong') : null);
        box.focus();
      }
    });
  });
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        state.flow.step = recovery ? 'code' : 'recovery';
        state.message = null;
        render();
      },
    },
    recovery ? t('code.useApp') : t('code.useRecovery'),
  );
  const back = h('button', { type: 'button', class: 'secondary', onclick: restartSignIn }, t('code.back'));
  return [
    heading(t('code.title')),
    h('p', {}, recovery ? t('code.recoveryIntro') : t('code.intro')),
    messageBox(),
    form,
    h('p', {}, toggle),
    h('p', {}, back),
  ];
}

function svgDataUri(svg) {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${window.btoa(binary)}`;
}

function enrolView() {
  const enrolment = state.flow.enrolment;
  if (!enrolment) {
    startEnrolment();
    return [heading(t('enrol.title')), messageBox(), h('p', { role: 'status' }, t('enrol.loading'))];
  }
  const form = h(
    'form',
    { novalidate: true, id: 'enrol-form' },
    field(
      'code',
      t('enrol.codeLabel'),
      { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', class: 'code' },
      t('code.hint'),
    ),
    h('button', { type: 'submit' }, t('enrol.submit')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!requireFilled(form, ['code'])) return;
    const code = form.querySelector('#code').value.replace(/\s+/g, '');
    submitting(form, t('code.busy'), async () => {
      try {
        const session = await post('/api/v1/auth/totp/confirm', {
          challenge: state.flow.challenge,
          code,
        });
        setSession(session);
        state.flow = {
          step: 'codes',
          challenge: null,
          enrolment: null,
          recoveryCodes: session.recovery_codes || [],
        };
        state.message = null;
        render();
      } catch (error) {
        if (error instanceof ApiError && error.reason === 'challenge_invalid') {
          restartSignIn();
          showMessage('alert', explain(error, 'code'));
          return;
        }
        showMessage('alert', explain(error, 'code'));
        const box = form.querySelector('#code');
        box.value = '';
        markField(box, error.status === 401 ? t('field.codeWrong') : null);
        box.focus();
      }
    });
  });
  return [
    heading(t('enrol.title')),
    h('p', {}, t('enrol.intro')),
    messageBox(),
    h(
      'ol',
      {},
      h('li', {}, t('enrol.step1')),
      h('li', {}, t('enrol.step2')),
      h('li', {}, t('enrol.step3')),
    ),
    h('img', { class: 'qr', id: 'totp-qr', src: svgDataUri(enrolment.qr_svg), alt: t('enrol.qrAlt') }),
    h('p', {}, t('enrol.manual')),
    data(enrolment.secret, 'p', { class: 'secret', id: 'totp-secret' }),
    form,
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: restartSignIn }, t('code.back'))),
  ];
}

async function startEnrolment() {
  try {
    const enrolment = await post('/api/v1/auth/totp/enrol', { challenge: state.flow.challenge });
    state.flow.enrolment = enrolment;
    render();
  } catch (error) {
    restartSignIn();
    showMessage('alert', explain(error, 'code'));
  }
}

function recoveryCodesView() {
  const codes = state.flow.recoveryCodes || [];
  return [
    heading(t('recovery.title')),
    h('p', {}, t('recovery.intro')),
    h('ol', { class: 'codes', id: 'recovery-codes' }, codes.map((code) => data(code, 'li'))),
    h('p', {}, h('strong', {}, t('recovery.once'))),
    h(
      'button',
      {
        type: 'button',
        id: 'recovery-done',
        onclick: async () => {
          state.flow = { step: 'password', challenge: null, enrolment: null, recoveryCodes: null };
          try {
            await loadMe();
            go('#/home');
          } catch (error) {
            failed(error);
          }
        },
      },
      t('recovery.done'),
    ),
  ];
}

// Views: signed in --------------------------------------------------------------------------

const SECTION_TEXT = {
  agenda: () => [t('nav.agenda'), t('agenda.empty.title'), t('agenda.empty.body')],
  clients: () => [t('nav.clients'), t('clients.empty.title'), t('clients.empty.body')],
  calls: () => [t('nav.calls'), t('calls.empty.title'), t('calls.empty.body')],
  tablets: () => [t('nav.tablets'), t('tablets.empty.title'), t('tablets.empty.body')],
  admin: () => [t('nav.admin'), t('admin.empty.title'), t('admin.empty.body')],
};

const ROLE_TEXT = {
  worker: () => t('role.worker'),
  coordinator: () => t('role.coordinator'),
  admin: () => t('role.admin'),
  privacy_officer: () => t('role.privacy_officer'),
};

function isAdmin() {
  return Boolean(state.me && state.me.roles.includes('admin'));
}

function visibleSections() {
  return SECTIONS.filter((section) => section !== 'admin' || isAdmin());
}

function homeView() {
  const me = state.me;
  return [
    h('h1', { tabindex: '-1' }, h('span', {}, t('home.welcome')), ' ', data(me.display_name)),
    h(
      'p',
      {},
      h('span', {}, t('home.today')),
      ' ',
      data(formatDate(new Date()), 'time', { datetime: isoDate(new Date()) }),
    ),
    messageBox(),
    h('p', {}, t('home.intro')),
    h(
      'ul',
      { class: 'sections' },
      visibleSections().map((section) => {
        const [title, , body] = SECTION_TEXT[section]();
        return h('li', {}, h('a', { href: `#/${section}` }, title), h('p', { class: 'hint' }, body));
      }),
    ),
  ];
}

function sectionView(section) {
  if (section === 'admin' && !isAdmin()) {
    return [heading(t('nav.admin')), h('div', { class: 'empty' }, h('p', {}, t('admin.notAllowed')))];
  }
  const [title, emptyTitle, emptyBody] = SECTION_TEXT[section]();
  return [
    heading(title),
    messageBox(),
    h('div', { class: 'empty' }, h('p', {}, h('strong', {}, emptyTitle)), h('p', {}, emptyBody)),
  ];
}

function accountView() {
  const me = state.me;
  const roles = me.roles.map((role) => (ROLE_TEXT[role] ? ROLE_TEXT[role]() : role));
  const teams = me.teams.map((team) => team.name);
  const form = h(
    'form',
    { novalidate: true, id: 'password-form' },
    field('current-password', t('account.password.current'), {
      type: 'password',
      autocomplete: 'current-password',
    }),
    field(
      'new-password',
      t('account.password.new'),
      { type: 'password', autocomplete: 'new-password', minlength: '10' },
      t('account.password.rules'),
    ),
    field('repeat-password', t('account.password.repeat'), {
      type: 'password',
      autocomplete: 'new-password',
    }),
    h('button', { type: 'submit' }, t('account.password.submit')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!requireFilled(form, ['current-password', 'new-password', 'repeat-password'])) return;
    const current = form.querySelector('#current-password');
    const fresh = form.querySelector('#new-password');
    const repeat = form.querySelector('#repeat-password');
    if (fresh.value !== repeat.value) {
      markField(repeat, t('field.mismatch'));
      showMessage('alert', t('account.password.mismatch'));
      repeat.focus();
      return;
    }
    if (fresh.value.length < 10) {
      markField(fresh, t('field.tooShort'));
      showMessage('alert', t('account.password.tooShort'));
      fresh.focus();
      return;
    }
    submitting(form, t('account.password.busy'), async () => {
      try {
        await call('POST', '/api/v1/auth/password', {
          current_password: current.value,
          new_password: fresh.value,
        });
        for (const input of [current, fresh, repeat]) {
          input.value = '';
          markField(input, null);
        }
        showMessage('notice', t('account.password.changed'));
      } catch (error) {
        if (error instanceof ApiError && error.status === 422) {
          const wrongCurrent = error.reason === 'current_password';
          showMessage('alert', wrongCurrent ? t('account.password.wrong') : t('account.password.weak'));
          if (wrongCurrent) markField(current, t('field.passwordWrong'));
          else markField(fresh, t('field.passwordWeak'));
          (wrongCurrent ? current : fresh).focus();
          return;
        }
        failed(error);
      }
    });
  });
  return [
    heading(t('account.title')),
    messageBox(),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, t('account.name')),
      h('dd', {}, data(me.display_name)),
      h('dt', {}, t('account.username')),
      h('dd', {}, data(me.username)),
      h('dt', {}, t('account.roles')),
      h(
        'dd',
        {},
        roles.map((role, index) => [index ? ', ' : '', h('span', {}, role)]),
      ),
      h('dt', {}, t('account.teams')),
      h('dd', {}, teams.length ? data(teams.join(', ')) : t('account.noTeams')),
    ),
    h('h2', {}, t('account.password.title')),
    form,
    h('h2', {}, t('account.factor.title')),
    h('p', {}, t('account.factor.body')),
    h('p', {}, h('span', {}, t('account.factor.codesLeft')), ' ', data(me.recovery_codes_left, 'strong')),
    h('p', {}, t('account.factor.reset')),
  ];
}

// Navigation, session and rendering -----------------------------------------------------------

function route() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  return hash === '' ? 'home' : hash;
}

function go(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

async function loadMe() {
  state.me = await call('GET', '/api/v1/me');
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  const signOutButton = document.getElementById('sign-out');
  const show = Boolean(state.me) && state.flow.step !== 'codes';
  nav.hidden = !show;
  signOutButton.hidden = !show;
  if (!show) return;
  const items = ['home', ...visibleSections(), 'account'].map((name) => {
    const label = name === 'home' ? t('nav.home') : name === 'account' ? t('nav.account') : SECTION_TEXT[name]()[0];
    return h('li', {}, h('a', { href: `#/${name}`, 'aria-current': name === current ? 'page' : false }, label));
  });
  nav.append(h('ul', {}, items));
}

const TITLES = {
  'sign-in': () => t('signIn.title'),
  home: () => t('nav.home'),
  account: () => t('account.title'),
};

// What the agenda, the call screen and the client file need of the shell.
const shell = {
  me: () => state.me,
  explain: (error) => explain(error),
  failed: (error) => failed(error),
  go: (hash) => go(hash),
};

function render({ focus = true } = {}) {
  translateStatic();
  clearAnnouncement();
  const [current0, ...rest] = route().split('/');
  let current = current0;
  const main = document.getElementById('main');
  let content;
  let title = null;
  // The call screen lives only on its own route: going elsewhere leaves the call.
  if (current !== 'call' || !state.me) leaveCallRoom();
  if (!state.me || state.flow.step === 'codes') {
    current = 'sign-in';
    content = signInView();
  } else if (current === 'sign-in' || current === 'home') {
    current = 'home';
    content = homeView();
  } else if (current === 'account') {
    content = accountView();
  } else if (current === 'agenda') {
    content = agendaView(rest, shell);
    title = agendaTitle(rest);
  } else if (current === 'clients') {
    content = clientsView(rest, shell);
    title = clientsTitle(rest);
  } else if (current === 'call' && rest[0]) {
    current = 'call';
    content = callRoomView(rest, shell);
    title = callRoomTitle();
  } else if (SECTIONS.includes(current)) {
    content = sectionView(current);
  } else {
    current = 'home';
    content = homeView();
  }
  renderNav(current);
  main.classList.toggle('wide', current === 'agenda' || current === 'call' || current === 'clients');
  main.replaceChildren(...content);
  title = title || (TITLES[current] ? TITLES[current]() : SECTION_TEXT[current]()[0]);
  document.title = `${title} – ${t('app.name')}`;
  if (focus) {
    const target = main.querySelector('h1');
    if (target) target.focus();
  }
}

function failed(error) {
  if (error instanceof ApiError && error.code === 'session_expired') {
    state.me = null;
    restartSignIn();
    showMessage('alert', t('error.sessionExpired'));
    return;
  }
  showMessage('alert', explain(error));
}

async function resume() {
  if (!hadSession()) return;
  try {
    await refresh();
    await loadMe();
  } catch (error) {
    state.me = null;
    state.message = {
      kind: 'alert',
      text:
        error instanceof ApiError && error.status === 401 ? t('error.sessionExpired') : explain(error),
    };
  }
}

async function switchLanguage() {
  const next = currentLanguage() === 'nl' ? 'en' : 'nl';
  try {
    await useLanguage(next, { remember: true });
  } catch (error) {
    showMessage('alert', t('error.network'));
    return;
  }
  if (state.message) state.message = null;
  render({ focus: false });
  const button = document.getElementById('lang-switch');
  button.setAttribute('lang', currentLanguage() === 'nl' ? 'en' : 'nl');
  button.focus();
}

async function doSignOut() {
  try {
    await signOut();
  } catch {
    // Signed out here anyway: the access token is gone from memory.
  }
  state.me = null;
  restartSignIn();
  showMessage('notice', t('signOut.done'));
  go('#/sign-in');
}

async function start() {
  await useLanguage(savedLanguage());
  document.getElementById('lang-switch').setAttribute('lang', currentLanguage() === 'nl' ? 'en' : 'nl');
  document.getElementById('lang-switch').addEventListener('click', switchLanguage);
  document.getElementById('sign-out').addEventListener('click', doSignOut);
  // The skip link moves focus without touching the hash (the hash is the router's).
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main').focus();
  });
  window.addEventListener('hashchange', () => {
    if (state.me) state.message = null;
    render();
    if (state.me && !signedIn()) failed(new ApiError(401, 'session_expired'));
  });
  translateStatic();
  await resume();
  render({ focus: false });
  document.body.dataset.ready = 'true';
}

start();
