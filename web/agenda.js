// The agenda: week and day view, a new appointment, one appointment (links, call or visit,
// cancelling), a call that starts now, and working hours (bereikbaarheid).
//
// Routes: #/agenda (this week), #/agenda/week/<day>, #/agenda/day/<day>, #/agenda/new/<day>,
// #/agenda/appointment/<id>, #/agenda/call, #/agenda/hours. Days are Amsterdam calendar
// days ('YYYY-MM-DD'); every time shown is Amsterdam wall-clock time.

import { ApiError, call } from './api.js';
import { t } from './i18n.js';
import {
  addDays,
  dayOf,
  formatDaySpan,
  formatLongDay,
  formatRange,
  formatShortDay,
  instantAt,
  isDay,
  mondayOf,
  today,
  weekNumber,
} from './time.js';
import { announce, data, h, icon, markField } from './ui.js';

export const KIND_TEXT = {
  checkin: () => t('kind.checkin'),
  visit: () => t('kind.visit'),
  case_meeting: () => t('kind.case_meeting'),
};

export const STATUS_TEXT = {
  planned: () => t('status.planned'),
  lobby_open: () => t('status.lobby_open'),
  in_progress: () => t('status.in_progress'),
  completed: () => t('status.completed'),
  no_show: () => t('status.no_show'),
  cancelled: () => t('status.cancelled'),
};

export const ROLE_TEXT = {
  worker: () => t('participant.worker'),
  client: () => t('participant.client'),
  guest: () => t('participant.guest'),
};

const DURATIONS = {
  15: () => t('duration.15'),
  30: () => t('duration.30'),
  45: () => t('duration.45'),
  60: () => t('duration.60'),
  90: () => t('duration.90'),
  120: () => t('duration.120'),
};

const WEEKDAYS = [
  () => t('weekday.0'),
  () => t('weekday.1'),
  () => t('weekday.2'),
  () => t('weekday.3'),
  () => t('weekday.4'),
  () => t('weekday.5'),
  () => t('weekday.6'),
];

const FINAL = new Set(['completed', 'no_show', 'cancelled']);

let shell = null; // what the shell lends: me(), explain(error), failed(error), go(hash)
let generation = 0; // each render; loading only fills the page it was started for
let lastRoute = null;
let flash = null; // a notice for the next view: [parts]
let draft = null; // the new-appointment form while it is shown
let hoursDraft = null; // the working-hours form while it is shown

// Small pieces -------------------------------------------------------------------------------

function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

export function messages() {
  const alert = h('div', { class: 'alert', role: 'alert' });
  const notice = h('div', { class: 'notice', role: 'status' });
  return {
    nodes: [alert, notice],
    alert(...parts) {
      notice.replaceChildren();
      alert.replaceChildren(...parts);
    },
    notice(...parts) {
      alert.replaceChildren();
      notice.replaceChildren(...parts);
    },
    clear() {
      alert.replaceChildren();
      notice.replaceChildren();
    },
  };
}

function loading() {
  return h('p', { role: 'status', class: 'loading' }, t('agenda.loading'));
}

function still(gen) {
  return gen === generation;
}

function when(appointment) {
  const starts = new Date(appointment.starts_at);
  return [
    data(formatLongDay(dayOf(starts))),
    ', ',
    data(formatRange(starts, new Date(appointment.ends_at))),
  ];
}

function kindLabel(kind) {
  return h('span', { class: `kind kind-${kind}` }, icon(kind), h('span', {}, KIND_TEXT[kind]()));
}

function whoOf(appointment) {
  if (appointment.client) return data(appointment.client.name, 'span', { class: 'who' });
  if (appointment.restricted) return h('span', { class: 'who' }, t('agenda.restricted'));
  if (appointment.title) return data(appointment.title, 'span', { class: 'who' });
  return null;
}

// An error in words the user can act on; false if the shell took over (signed out).
function problem(error, msgs, context = {}) {
  if (error instanceof ApiError && error.code === 'session_expired') {
    shell.failed(error);
    return false;
  }
  if (error instanceof ApiError) {
    if (error.code === 'stale_version') return msgs.alert(t('agenda.error.stale'));
    if (error.code === 'consent_required') return msgs.alert(t('agenda.error.consent'));
    if (error.code === 'invalid_transition') return msgs.alert(t('agenda.error.cannotChange'));
    if (error.status === 404) return msgs.alert(context.notFound || t('agenda.error.notFound'));
    if (error.status === 422) return msgs.alert(context.invalid || t('agenda.error.invalid'));
  }
  return msgs.alert(shell.explain(error));
}

// Idempotency-Keys for changes: a request whose answer was lost (no connection) is sent
// again with the same key, so Beeldbel answers it once and does not book twice. Any other
// answer ends the key: the next attempt is a new request.
function newKey() {
  if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export function retryKeys() {
  let lost = null; // { body, key } of the request whose answer did not arrive
  return async function send(method, path, body) {
    const text = JSON.stringify(body);
    const key = lost && lost.body === text ? lost.key : newKey();
    try {
      const answer = await call(method, path, body, { 'Idempotency-Key': key });
      lost = null;
      return answer;
    } catch (error) {
      lost = error instanceof ApiError && error.status === 0 ? { body: text, key } : null;
      throw error;
    }
  };
}

// Runs ``work`` with the button showing what is happening ("Bezig met opslaan…").
export async function busy(button, busyText, work) {
  if (button.disabled) return;
  const label = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = busyText;
  announce(busyText);
  try {
    await work();
  } finally {
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.replaceChildren(...label);
    }
  }
}


export function field(id, label, attrs = {}, hint = null) {
  const hintId = hint ? `${id}-hint` : null;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('input', { id, name: id, 'aria-describedby': hintId, 'data-hint': hintId, ...attrs }),
  );
}

export function choice(type, name, id, value, label, checked, onchange, hint = null) {
  return h(
    'div',
    { class: 'choice' },
    h('input', {
      type,
      name,
      id,
      value,
      checked,
      onchange,
      'aria-describedby': hint ? `${id}-hint` : null,
    }),
    h(
      'label',
      { for: id },
      label,
      hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null,
    ),
  );
}

// Views --------------------------------------------------------------------------------------

export function agendaTitle(rest) {
  const page = rest[0];
  if (page === 'new') return t('form.title');
  if (page === 'appointment') return t('appointment.title');
  if (page === 'call') return t('call.title');
  if (page === 'hours') return t('hours.title');
  return t('nav.agenda');
}

export function agendaView(rest, env) {
  shell = env;
  generation += 1;
  const routeKey = rest.join('/');
  const same = routeKey === lastRoute;
  lastRoute = routeKey;
  const me = env.me();
  if (!me.roles.includes('worker') && !me.roles.includes('coordinator')) {
    return [
      heading(t('nav.agenda')),
      h('div', { class: 'empty' }, h('p', {}, t('agenda.notForYou'))),
    ];
  }
  const [page, arg] = rest;
  if (page !== 'new' || !same) draft = null;
  if (page !== 'hours' || !same) hoursDraft = null;
  if (page === 'day') return calendarView('day', isDay(arg) ? arg : today());
  if (page === 'week') return calendarView('week', isDay(arg) ? arg : today());
  if (page === 'new') return formView(isDay(arg) ? arg : null);
  if (page === 'appointment' && arg) return detailView(arg);
  if (page === 'call') return callView();
  if (page === 'hours') return hoursView();
  return calendarView('week', today());
}

// Week and day --------------------------------------------------------------------------------

function calendarView(mode, day) {
  const gen = generation;
  const msgs = messages();
  if (flash) {
    msgs.notice(...flash);
    announce(...flash.map((part) => (typeof part === 'string' ? part : part.cloneNode(true))));
    flash = null;
  }
  const week = mode === 'week';
  const first = week ? mondayOf(day) : day;
  const count = week ? 7 : 1;
  const last = addDays(first, count - 1);
  const now = today();
  const step = week ? 7 : 1;
  const dayForDayView = week ? (now >= first && now <= last ? now : first) : day;
  const period = week
    ? h(
        'h2',
        { id: 'period' },
        h('span', {}, t('agenda.week')),
        ' ',
        data(weekNumber(first)),
        ' · ',
        data(formatDaySpan(first, last)),
      )
    : h(
        'h2',
        { id: 'period' },
        data(formatLongDay(day)),
        day === now ? [' · ', h('span', {}, t('agenda.today'))] : null,
      );
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    h(
      'a',
      {
        class: 'button',
        id: 'new-appointment',
        href: `#/agenda/new/${week ? (now >= first && now <= last ? now : first) : day}`,
      },
      t('agenda.new'),
    ),
    h('a', { class: 'button', id: 'call-now', href: '#/agenda/call' }, t('agenda.callNow')),
    h(
      'a',
      { class: 'button secondary', id: 'edit-hours', href: '#/agenda/hours' },
      t('agenda.hours'),
    ),
  );
  const pager = h(
    'nav',
    { class: 'pager', 'aria-label': t('agenda.pager') },
    h(
      'a',
      {
        class: 'button secondary',
        id: 'previous',
        href: `#/agenda/${mode}/${addDays(first, -step)}`,
      },
      week ? t('agenda.previousWeek') : t('agenda.previousDay'),
    ),
    h(
      'a',
      { class: 'button secondary', id: 'current', href: `#/agenda/${mode}/${now}` },
      week ? t('agenda.thisWeek') : t('agenda.today'),
    ),
    h(
      'a',
      { class: 'button secondary', id: 'next', href: `#/agenda/${mode}/${addDays(first, step)}` },
      week ? t('agenda.nextWeek') : t('agenda.nextDay'),
    ),
    h(
      'span',
      { class: 'views' },
      h(
        'a',
        {
          class: 'button secondary',
          id: 'day-view',
          href: `#/agenda/day/${dayForDayView}`,
          'aria-current': week ? false : 'page',
        },
        t('agenda.dayView'),
      ),
      h(
        'a',
        {
          class: 'button secondary',
          id: 'week-view',
          href: `#/agenda/week/${day}`,
          'aria-current': week ? 'page' : false,
        },
        t('agenda.weekView'),
      ),
    ),
  );
  const body = h('div', { id: 'calendar-area', 'aria-busy': 'true' }, loading());
  load();
  return [heading(t('nav.agenda')), ...msgs.nodes, toolbar, pager, period, body];

  async function load() {
    let found;
    try {
      const from = instantAt(first).toISOString();
      const to = instantAt(addDays(last, 1)).toISOString();
      found = await call(
        'GET',
        `/api/v1/agenda?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      );
    } catch (error) {
      if (!still(gen)) return;
      body.replaceChildren();
      body.removeAttribute('aria-busy');
      problem(error, msgs);
      return;
    }
    if (!still(gen)) return;
    body.removeAttribute('aria-busy');
    const items = found.items;
    if (!items.length) {
      body.replaceChildren(
        h(
          'div',
          { class: 'empty' },
          h('p', {}, h('strong', {}, week ? t('agenda.weekEmpty') : t('agenda.dayEmpty'))),
          h('p', {}, t('agenda.emptyHint')),
        ),
      );
      return;
    }
    const byDay = new Map();
    for (let i = 0; i < count; i += 1) byDay.set(addDays(first, i), []);
    for (const appointment of items) {
      const starts = dayOf(new Date(appointment.starts_at));
      (byDay.get(starts) || byDay.get(first)).push(appointment);
    }
    body.replaceChildren(
      h(
        'ol',
        { class: week ? 'week' : 'day-list', id: 'calendar' },
        [...byDay.entries()].map(([date, list]) =>
          h(
            'li',
            { class: date === now ? 'day today' : 'day', 'data-day': date },
            week
              ? h(
                  'h3',
                  {},
                  h(
                    'a',
                    { href: `#/agenda/day/${date}`, class: 'day-link' },
                    data(formatShortDay(date)),
                    date === now ? h('span', { class: 'badge' }, t('agenda.today')) : null,
                  ),
                )
              : null,
            list.length
              ? h(
                  'ul',
                  { class: 'appointments' },
                  list.map((appointment) => h('li', {}, tile(appointment, !week))),
                )
              : h('p', { class: 'none' }, t('agenda.nothing')),
          ),
        ),
      ),
    );
  }
}

function tile(appointment, large) {
  const a = appointment;
  return h(
    'a',
    {
      href: `#/agenda/appointment/${a.id}`,
      class: `appointment kind-${a.kind} status-${a.status}${large ? ' large' : ''}`,
      'data-id': a.id,
      'data-kind': a.kind,
      'data-status': a.status,
    },
    data(formatRange(new Date(a.starts_at), new Date(a.ends_at)), 'span', { class: 'time' }),
    kindLabel(a.kind),
    whoOf(a),
    large && a.title && a.client ? data(a.title, 'span', { class: 'title' }) : null,
    a.status !== 'planned' ? h('span', { class: 'status' }, STATUS_TEXT[a.status]()) : null,
    a.outside_hours ? h('span', { class: 'flag' }, t('agenda.outsideHours')) : null,
  );
}

// One appointment ----------------------------------------------------------------------------

function detailView(id) {
  const gen = generation;
  const msgs = messages();
  const back = h('a', { href: '#/agenda', id: 'back', class: 'back-link' }, t('appointment.back'));
  const body = h('div', { id: 'appointment', 'aria-busy': 'true' }, loading());
  let shown = null; // what is on the page: { a, links }
  const change = retryKeys();
  load();
  return [h('p', {}, back), heading(t('appointment.title')), ...msgs.nodes, body];

  async function load(focusId = null) {
    let appointment;
    let links = null;
    try {
      appointment = await call('GET', `/api/v1/appointments/${encodeURIComponent(id)}`);
      if (appointment.kind !== 'visit' && !FINAL.has(appointment.status)) {
        links = (await call('GET', `/api/v1/appointments/${encodeURIComponent(id)}/links`)).items;
      }
    } catch (error) {
      if (!still(gen)) return;
      body.replaceChildren();
      body.removeAttribute('aria-busy');
      problem(error, msgs, {
        notFound: t('appointment.notFound'),
        invalid: t('appointment.notFound'),
      });
      return;
    }
    if (!still(gen)) return;
    show(appointment, links);
    if (focusId) {
      const target = document.getElementById(focusId);
      if (target) target.focus();
    }
  }

  function show(a, links) {
    shown = { a, links };
    body.removeAttribute('aria-busy');
    back.setAttribute('href', `#/agenda/week/${dayOf(new Date(a.starts_at))}`);
    const facts = h(
      'dl',
      { class: 'facts', id: 'facts' },
      h('dt', {}, t('appointment.kind')),
      h('dd', { id: 'fact-kind' }, kindLabel(a.kind)),
      h('dt', {}, t('appointment.when')),
      h('dd', { id: 'fact-when' }, when(a)),
      a.client || a.restricted
        ? [
            h('dt', {}, t('appointment.client')),
            h('dd', {}, a.client ? data(a.client.name) : t('agenda.restricted')),
          ]
        : null,
      a.title ? [h('dt', {}, t('appointment.subject')), h('dd', {}, data(a.title))] : null,
      h('dt', {}, t('appointment.status')),
      h(
        'dd',
        { id: 'fact-status', class: `status-${a.status}` },
        h('span', {}, STATUS_TEXT[a.status]()),
        a.cancel_reason ? [' · ', data(a.cancel_reason)] : null,
      ),
      a.series_id
        ? [h('dt', {}, t('appointment.repeats')), h('dd', {}, t('appointment.inSeries'))]
        : null,
      a.outside_hours
        ? [h('dt', {}, t('appointment.hours')), h('dd', {}, t('appointment.outsideHours'))]
        : null,
      a.outside_client_times
        ? [
            h('dt', {}, t('appointment.clientTimes')),
            h('dd', {}, t('appointment.outsideClientTimes')),
          ]
        : null,
    );
    const people = h(
      'ul',
      { class: 'people', id: 'participants' },
      a.participants.map((p) =>
        h(
          'li',
          {},
          p.name ? data(p.name) : h('span', {}, t('appointment.someone')),
          ' (',
          h('span', {}, ROLE_TEXT[p.role]()),
          ')',
        ),
      ),
    );
    const parts = [facts];
    if (a.kind !== 'visit' && !FINAL.has(a.status)) parts.push(callRoomLink(a.id));
    parts.push(h('h2', {}, t('appointment.participants')), people);
    if (a.kind === 'case_meeting') {
      parts.push(
        h('h2', {}, t('appointment.items')),
        a.items.length
          ? h(
              'ol',
              { class: 'items', id: 'items' },
              a.items.map((item) =>
                h(
                  'li',
                  {},
                  item.topic ? data(item.topic) : h('span', {}, t('agenda.restricted')),
                  item.client ? [' · ', data(item.client.name)] : null,
                  item.starts_at
                    ? [' · ', data(formatRange(new Date(item.starts_at), new Date(item.ends_at)))]
                    : null,
                ),
              ),
            )
          : h('p', {}, t('appointment.noItems')),
      );
    }
    parts.push(...reportLinks(a));
    if (links) parts.push(...linkList(links));
    else if (a.kind === 'visit')
      parts.push(h('h2', {}, t('links.title')), h('p', { id: 'no-links' }, t('links.visit')));
    if (!FINAL.has(a.status) && a.status !== 'in_progress') parts.push(...actions(a));
    body.replaceChildren(...parts);
  }

  function actions(a) {
    const area = h('div', { class: 'actions', id: 'actions' });
    const toggle =
      a.kind === 'case_meeting'
        ? null
        : h(
            'button',
            {
              type: 'button',
              id: a.kind === 'visit' ? 'to-checkin' : 'to-visit',
              onclick: (event) => changeKind(a, event.currentTarget),
            },
            a.kind === 'visit' ? t('appointment.toCheckin') : t('appointment.toVisit'),
          );
    const cancelButton = h(
      'button',
      {
        type: 'button',
        class: 'secondary danger',
        id: 'cancel-appointment',
        onclick: () => showCancel(a, area),
      },
      t('appointment.cancel'),
    );
    area.append(toggle || '', cancelButton);
    return [h('h2', {}, t('appointment.change')), area];
  }

  function changeKind(a, button) {
    const kind = a.kind === 'visit' ? 'checkin' : 'visit';
    busy(button, t('agenda.saving'), async () => {
      try {
        const changed = await change('PATCH', `/api/v1/appointments/${a.id}`, {
          version: a.version,
          kind,
          scope: 'this',
        });
        const links =
          changed.kind !== 'visit'
            ? (await call('GET', `/api/v1/appointments/${a.id}/links`)).items
            : null;
        if (!still(gen)) return;
        show(changed, links);
        msgs.notice(kind === 'visit' ? t('appointment.nowVisit') : t('appointment.nowCheckin'));
        const next = document.getElementById(kind === 'visit' ? 'to-checkin' : 'to-visit');
        if (next) next.focus();
      } catch (error) {
        if (!still(gen)) return;
        problem(error, msgs);
        if (error instanceof ApiError && error.code === 'stale_version') load();
      }
    });
  }

  function showCancel(a, area) {
    const inSeries = Boolean(a.series_id);
    const reason = field('cancel-reason', t('cancel.reason'), {
      type: 'text',
      maxlength: '500',
      autocomplete: 'off',
    });
    const form = h(
      'form',
      { id: 'cancel-form', novalidate: true },
      inSeries
        ? h(
            'fieldset',
            {},
            h('legend', {}, t('cancel.which')),
            choice('radio', 'cancel-scope', 'cancel-this', 'this', t('cancel.this'), true),
            choice(
              'radio',
              'cancel-scope',
              'cancel-following',
              'following',
              t('cancel.following'),
              false,
            ),
          )
        : null,
      reason,
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'submit', class: 'danger-solid' }, t('cancel.confirm')),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            id: 'keep-appointment',
            onclick: () => {
              show(shown.a, shown.links);
              const again = document.getElementById('cancel-appointment');
              if (again) again.focus();
            },
          },
          t('cancel.keep'),
        ),
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const scope =
        inSeries && form.querySelector('#cancel-following').checked ? 'following' : 'this';
      const text = form.querySelector('#cancel-reason').value.trim();
      const bodyOut = { version: a.version, scope };
      if (text) bodyOut.reason = text;
      busy(form.querySelector('button[type=submit]'), t('cancel.busy'), async () => {
        try {
          const cancelled = await change('POST', `/api/v1/appointments/${a.id}/cancel`, bodyOut);
          if (!still(gen)) return;
          show(cancelled, null);
          msgs.notice(scope === 'following' ? t('cancel.doneFollowing') : t('cancel.done'));
          const heading1 = document.querySelector('main h1');
          if (heading1) heading1.focus();
        } catch (error) {
          if (!still(gen)) return;
          problem(error, msgs);
        }
      });
    });
    area.replaceChildren(h('h3', {}, t('cancel.title')), form);
    const first = form.querySelector('input');
    if (first) first.focus();
  }
}

// "Verslag schrijven" for each client the appointment is about (a case meeting: each item's).
export function reportLinks(a, prefix = 'write-report') {
  if (a.status === 'cancelled') return [];
  const clients = [];
  const seen = new Set();
  const about = a.kind === 'case_meeting' ? a.items.map((item) => item.client) : [a.client];
  for (const client of about) {
    if (client && !seen.has(client.id)) {
      seen.add(client.id);
      clients.push(client);
    }
  }
  if (!clients.length) return [];
  const one = clients.length === 1;
  return [
    h('h2', {}, t('appointment.report')),
    h(
      'p',
      { class: 'buttons', id: `${prefix}s` },
      clients.map((client) =>
        h(
          'a',
          {
            class: 'button',
            id: `${prefix}-${client.id}`,
            href: `#/clients/${client.id}/write/${a.id}`,
          },
          t('file.writeReport'),
          one ? null : [' ', h('span', {}, t('appointment.reportAbout')), ' ', data(client.name)],
        ),
      ),
    ),
  ];
}

// To the call screen: the check, then the waiting room.
function callRoomLink(id) {
  return h(
    'p',
    { class: 'buttons' },
    h(
      'a',
      { class: 'button', id: 'open-call-room', href: `#/call/${id}` },
      t('appointment.startCall'),
    ),
  );
}

function linkList(links) {
  const status = h('p', { class: 'hint', role: 'status', id: 'copy-status' });
  return [
    h('h2', {}, t('links.title')),
    h('p', { class: 'hint' }, t('links.hint')),
    h(
      'ul',
      { class: 'links', id: 'links' },
      links.map((link) => {
        const url = new URL(link.path, window.location.origin).href;
        const code = data(url, 'code', { class: 'link' });
        return h(
          'li',
          { 'data-participant': link.participant_id, 'data-role': link.role },
          h(
            'p',
            { class: 'link-who' },
            link.name ? data(link.name, 'strong') : h('strong', {}, t('appointment.someone')),
            ' (',
            h('span', {}, ROLE_TEXT[link.role]()),
            ')',
          ),
          code,
          h(
            'button',
            { type: 'button', class: 'secondary copy', onclick: () => copy(url, code, status) },
            t('links.copy'),
            link.name ? data(` ${link.name}`, 'span', { class: 'visually-hidden' }) : null,
          ),
        );
      }),
    ),
    status,
  ];
}

async function copy(url, code, status) {
  try {
    await navigator.clipboard.writeText(url);
    status.replaceChildren(t('links.copied'));
  } catch {
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    status.replaceChildren(t('links.copyFailed'));
  }
}

// Finding a client ---------------------------------------------------------------------------

// A search field with results to choose from. ``chosen`` is called with the client
// (and with null when a new search starts).
function clientPicker(prefix, chosen, label = t('picker.label')) {
  const input = h('input', {
    id: `${prefix}-search`,
    name: `${prefix}-search`,
    type: 'search',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': `${prefix}-search-hint`,
    'data-hint': `${prefix}-search-hint`,
  });
  const results = h('div', { class: 'results', id: `${prefix}-results` });
  const status = h('p', { class: 'hint', role: 'status', id: `${prefix}-search-status` });
  const button = h(
    'button',
    { type: 'button', class: 'secondary', id: `${prefix}-search-button`, onclick: () => search() },
    t('picker.search'),
  );
  let timer = null;
  let asked = 0;
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      search();
    }
  });
  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    if (input.value.trim().length >= 2) timer = window.setTimeout(search, 400);
  });

  async function search() {
    window.clearTimeout(timer);
    const q = input.value.trim();
    if (!q) {
      markField(input, t('picker.typeName'));
      input.focus();
      return;
    }
    markField(input, null);
    asked += 1;
    const mine = asked;
    status.replaceChildren(t('picker.searching'));
    let page;
    try {
      page = await call('GET', `/api/v1/clients?q=${encodeURIComponent(q)}&limit=10`);
    } catch (error) {
      if (mine !== asked) return;
      status.replaceChildren();
      if (error instanceof ApiError && error.code === 'session_expired') shell.failed(error);
      else status.replaceChildren(shell.explain(error));
      return;
    }
    if (mine !== asked || !input.isConnected) return;
    const found = page.items.filter((client) => client.file_state !== 'closed');
    chosen(null); // a new search: nothing is chosen until a result is
    status.replaceChildren(found.length ? t('picker.found') : t('picker.none'));
    results.replaceChildren(
      found.length
        ? h(
            'fieldset',
            {},
            h('legend', {}, t('picker.results')),
            found.map((client) =>
              h(
                'div',
                { class: 'choice' },
                h('input', {
                  type: 'radio',
                  name: `${prefix}-client`,
                  id: `${prefix}-client-${client.id}`,
                  value: client.id,
                  onchange: () => chosen(client),
                }),
                h(
                  'label',
                  { for: `${prefix}-client-${client.id}` },
                  data(client.name, 'span', { class: 'client-name' }),
                  client.address && client.address.town
                    ? data(client.address.town, 'span', { class: 'hint' })
                    : null,
                ),
              ),
            ),
          )
        : '',
    );
  }

  return h(
    'div',
    { class: 'picker', id: `${prefix}-picker` },
    h('label', { for: `${prefix}-search` }, label),
    h('p', { class: 'hint', id: `${prefix}-search-hint` }, t('picker.hint')),
    h('div', { class: 'search-row' }, input, button),
    status,
    results,
  );
}

function chosenClient(prefix, client, change) {
  return h(
    'div',
    { class: 'chosen', id: `${prefix}-chosen` },
    h('p', {}, h('span', {}, t('picker.chosen')), ' ', data(client.name, 'strong')),
    h(
      'button',
      { type: 'button', class: 'secondary', id: `${prefix}-change`, onclick: change },
      t('picker.other'),
    ),
  );
}

// A new appointment --------------------------------------------------------------------------

function teamFor(client) {
  if (client && client.team_id) return client.team_id;
  const me = shell.me();
  return me.teams.length ? me.teams[0].id : null;
}

function formView(day) {
  const gen = generation;
  if (!draft) {
    draft = {
      kind: 'checkin',
      client: null,
      items: [],
      itemClient: null,
      date: day || today(),
      start: '',
      duration: '30',
      repeat: 'none',
      alternate: false,
      title: '',
      send: retryKeys(),
    };
  }
  const d = draft;
  const msgs = messages();
  const who = h('div', { id: 'who' });
  const repeatArea = h('div', { id: 'repeat-area' });

  function renderWho() {
    if (d.kind === 'case_meeting') {
      const topic = field('item-topic', t('form.itemTopic'), {
        type: 'text',
        maxlength: '300',
        autocomplete: 'off',
      });
      const itemClient = d.itemClient
        ? chosenClient('item', d.itemClient, () => {
            d.itemClient = null;
            renderWho();
            document.getElementById('item-search').focus();
          })
        : clientPicker(
            'item',
            (client) => {
              d.itemClient = client;
            },
            t('form.itemClient'),
          );
      who.replaceChildren(
        h(
          'fieldset',
          { id: 'items-fieldset' },
          h('legend', {}, t('form.items')),
          h('p', { class: 'hint' }, t('form.itemsHint')),
          d.items.length
            ? h(
                'ol',
                { class: 'items', id: 'form-items' },
                d.items.map((item, index) =>
                  h(
                    'li',
                    {},
                    data(item.topic),
                    ' · ',
                    data(item.client.name),
                    ' ',
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary small',
                        onclick: () => {
                          d.items.splice(index, 1);
                          renderWho();
                        },
                      },
                      t('form.removeItem'),
                      data(` ${item.topic}`, 'span', { class: 'visually-hidden' }),
                    ),
                  ),
                ),
              )
            : h('p', { id: 'no-items' }, t('form.noItems')),
          itemClient,
          topic,
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              id: 'add-item',
              onclick: () => {
                const input = document.getElementById('item-topic');
                const text = input.value.trim();
                if (!d.itemClient) {
                  msgs.alert(t('form.itemNeedsClient'));
                  const search = document.getElementById('item-search');
                  if (search) search.focus();
                  return;
                }
                if (!text) {
                  markField(input, t('field.empty'));
                  input.focus();
                  return;
                }
                d.items.push({ client: d.itemClient, topic: text });
                d.itemClient = null;
                msgs.clear();
                renderWho();
                announce(t('form.itemAdded'));
                document.getElementById('item-search').focus();
              },
            },
            t('form.addItem'),
          ),
        ),
      );
      return;
    }
    who.replaceChildren(
      d.client
        ? chosenClient('client', d.client, () => {
            d.client = null;
            renderWho();
            document.getElementById('client-search').focus();
          })
        : clientPicker('client', (client) => {
            d.client = client;
          }),
    );
  }

  function renderRepeat() {
    repeatArea.hidden = d.kind === 'case_meeting';
    if (d.kind === 'case_meeting') {
      repeatArea.replaceChildren();
      return;
    }
    const onRepeat = (event) => {
      d.repeat = event.currentTarget.value;
      renderRepeat();
    };
    repeatArea.replaceChildren(
      ...[
        h(
          'fieldset',
          {},
          h('legend', {}, t('form.repeat')),
          choice(
            'radio',
            'repeat',
            'repeat-none',
            'none',
            t('form.repeatNone'),
            d.repeat === 'none',
            onRepeat,
          ),
          choice(
            'radio',
            'repeat',
            'repeat-weekly',
            'weekly',
            t('form.repeatWeekly'),
            d.repeat === 'weekly',
            onRepeat,
          ),
          choice(
            'radio',
            'repeat',
            'repeat-biweekly',
            'biweekly',
            t('form.repeatBiweekly'),
            d.repeat === 'biweekly',
            onRepeat,
          ),
        ),
        d.repeat !== 'none'
          ? choice(
              'checkbox',
              'alternate',
              'alternate',
              'yes',
              t('form.alternate'),
              d.alternate,
              (event) => {
                d.alternate = event.currentTarget.checked;
              },
              t('form.alternateHint'),
            )
          : null,
      ].filter(Boolean),
    );
  }

  const onKind = (event) => {
    d.kind = event.currentTarget.value;
    msgs.clear();
    renderWho();
    renderRepeat();
  };
  const duration = h(
    'select',
    {
      id: 'duration',
      name: 'duration',
      onchange: (event) => {
        d.duration = event.currentTarget.value;
      },
    },
    Object.keys(DURATIONS).map((minutes) =>
      h(
        'option',
        { value: minutes, selected: String(minutes) === d.duration },
        DURATIONS[minutes](),
      ),
    ),
  );
  const form = h(
    'form',
    { id: 'appointment-form', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', {}, t('form.kind')),
      ['checkin', 'visit', 'case_meeting'].map((kind) =>
        choice(
          'radio',
          'kind',
          `kind-${kind}`,
          kind,
          [icon(kind), h('span', {}, KIND_TEXT[kind]())],
          d.kind === kind,
          onKind,
        ),
      ),
    ),
    who,
    field('date', t('form.date'), {
      type: 'date',
      required: true,
      value: d.date,
      oninput: (event) => {
        d.date = event.currentTarget.value;
      },
    }),
    field('start', t('form.start'), {
      type: 'time',
      required: true,
      step: '300',
      value: d.start,
      oninput: (event) => {
        d.start = event.currentTarget.value;
      },
    }),
    h('div', { class: 'field' }, h('label', { for: 'duration' }, t('form.duration')), duration),
    repeatArea,
    field(
      'title',
      t('form.titleField'),
      {
        type: 'text',
        maxlength: '200',
        autocomplete: 'off',
        value: d.title,
        oninput: (event) => {
          d.title = event.currentTarget.value;
        },
      },
      t('form.titleHint'),
    ),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', id: 'save-appointment' }, t('form.submit')),
      h(
        'a',
        { href: `#/agenda/week/${d.date || today()}`, class: 'button secondary' },
        t('form.back'),
      ),
    ),
  );
  renderWho();
  renderRepeat();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save(false);
  });

  function save(override) {
    const dateInput = form.querySelector('#date');
    const startInput = form.querySelector('#start');
    let first = null;
    for (const input of [dateInput, startInput]) {
      const empty = input.value.trim() === '';
      markField(input, empty ? t('field.empty') : null);
      if (empty && !first) first = input;
    }
    if (d.kind !== 'case_meeting' && !d.client) {
      const search = document.getElementById('client-search');
      if (search) markField(search, t('form.chooseClient'));
      first = first || search;
    }
    if (first) {
      msgs.alert(t('error.required'));
      first.focus();
      return;
    }
    if (d.kind === 'case_meeting' && !d.items.length) {
      msgs.alert(t('form.needItem'));
      document.getElementById('item-search')?.focus();
      return;
    }
    const starts = instantAt(dateInput.value, startInput.value);
    const ends = new Date(starts.getTime() + Number(d.duration) * 60000);
    const client = d.kind === 'case_meeting' ? d.items[0].client : d.client;
    const team = teamFor(client);
    if (!team) {
      msgs.alert(t('form.noTeam'));
      return;
    }
    const body = {
      kind: d.kind,
      team_id: team,
      starts_at: starts.toISOString(),
      ends_at: ends.toISOString(),
      override_hours: override,
    };
    const title = form.querySelector('#title').value.trim();
    if (title) body.title = title;
    if (d.kind === 'case_meeting') {
      body.items = d.items.map((item) => ({ client_id: item.client.id, topic: item.topic }));
      body.clients_take_part = false;
    } else {
      body.client_id = d.client.id;
      if (d.repeat !== 'none') {
        body.recurrence = {
          rrule: d.repeat === 'biweekly' ? 'FREQ=WEEKLY;INTERVAL=2' : 'FREQ=WEEKLY',
        };
        if (d.alternate)
          body.recurrence.kinds = d.kind === 'visit' ? ['visit', 'checkin'] : ['checkin', 'visit'];
      }
    }
    const button = override
      ? document.getElementById('book-anyway')
      : form.querySelector('#save-appointment');
    busy(button, t('agenda.saving'), async () => {
      try {
        const created = await d.send('POST', '/api/v1/appointments', body);
        if (!still(gen)) return;
        flash = [created.series_id ? t('form.savedSeries') : t('form.saved')];
        draft = null;
        shell.go(`#/agenda/week/${dayOf(new Date(created.appointment.starts_at))}`);
      } catch (error) {
        if (!still(gen)) return;
        if (error instanceof ApiError && error.code === 'outside_working_hours') {
          msgs.alert(
            h('p', {}, h('strong', {}, t('form.outsideHours'))),
            h('p', {}, t('form.outsideHoursHint')),
            h(
              'button',
              { type: 'button', id: 'book-anyway', onclick: () => save(true) },
              t('form.bookAnyway'),
            ),
          );
          return;
        }
        if (error instanceof ApiError && error.code === 'booking_conflict') {
          msgs.alert(...(await conflictText(error.details, 'form')));
          return;
        }
        problem(error, msgs, { invalid: t('form.invalid') });
      }
    });
  }

  return [heading(t('form.title')), ...msgs.nodes, form];
}

// What is in the way, in plain words: when, and (if it is one's own) what and with whom.
async function conflictText(details, context) {
  const conflicts = (details && details.conflicts) || [];
  const me = shell.me();
  const mine = conflicts.find((c) => c.resource === `worker:${me.subject}`);
  const first = mine || conflicts[0];
  const intro = mine
    ? context === 'call'
      ? t('call.conflict')
      : t('form.conflict')
    : t('form.conflictClient');
  const parts = [h('p', {}, h('strong', {}, intro))];
  if (first) {
    const line = h('p', { id: 'conflict-with' }, when(first));
    try {
      const other = await call('GET', `/api/v1/appointments/${first.appointment_id}`);
      line.append(' · ', KIND_TEXT[other.kind]());
      const who = other.client ? other.client.name : other.title;
      if (who) line.append(' · ', data(who));
    } catch {
      // Not one we may see (someone else's): the time says enough.
    }
    parts.push(line);
  }
  parts.push(h('p', {}, context === 'call' ? t('call.conflictHint') : t('form.conflictHint')));
  return parts;
}

// A call that starts now ---------------------------------------------------------------------

function callView() {
  const gen = generation;
  const msgs = messages();
  const send = retryKeys();
  let client = null;
  const who = h('div', { id: 'call-who' });
  const result = h('div', { id: 'call-result' });
  function renderWho() {
    who.replaceChildren(
      client
        ? chosenClient('call', client, () => {
            client = null;
            renderWho();
            document.getElementById('call-search').focus();
          })
        : clientPicker('call', (found) => {
            client = found;
          }),
    );
  }
  renderWho();
  const form = h(
    'form',
    { id: 'call-form', novalidate: true },
    who,
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', id: 'start-call' }, t('call.submit')),
      h('a', { href: '#/agenda', class: 'button secondary' }, t('form.back')),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!client) {
      const search = document.getElementById('call-search');
      if (search) {
        markField(search, t('form.chooseClient'));
        search.focus();
      }
      msgs.alert(t('error.required'));
      return;
    }
    busy(form.querySelector('#start-call'), t('call.busy'), async () => {
      try {
        const started = await send('POST', '/api/v1/calls', { client_id: client.id });
        const links = (await call('GET', `/api/v1/appointments/${started.id}/links`)).items;
        if (!still(gen)) return;
        msgs.clear();
        form.hidden = true;
        result.replaceChildren(
          h('h2', { id: 'call-ready', tabindex: '-1' }, t('call.ready')),
          h(
            'dl',
            { class: 'facts' },
            h('dt', {}, t('appointment.status')),
            h(
              'dd',
              { id: 'call-status', class: `status-${started.status}` },
              STATUS_TEXT[started.status](),
            ),
            h('dt', {}, t('appointment.client')),
            h('dd', {}, started.client ? data(started.client.name) : t('agenda.restricted')),
            h('dt', {}, t('appointment.when')),
            h('dd', {}, when(started)),
          ),
          h('p', {}, t('call.next')),
          callRoomLink(started.id),
          ...linkList(links),
          h(
            'p',
            { class: 'buttons' },
            h(
              'a',
              {
                class: 'button secondary',
                href: `#/agenda/appointment/${started.id}`,
                id: 'open-call',
              },
              t('call.open'),
            ),
            h('a', { class: 'button secondary', href: '#/agenda' }, t('appointment.back')),
          ),
        );
        document.getElementById('call-ready').focus();
      } catch (error) {
        if (!still(gen)) return;
        if (error instanceof ApiError && error.code === 'booking_conflict') {
          msgs.alert(...(await conflictText(error.details, 'call')));
          return;
        }
        problem(error, msgs);
      }
    });
  });
  return [heading(t('call.title')), h('p', {}, t('call.intro')), ...msgs.nodes, form, result];
}

// Working hours ------------------------------------------------------------------------------

function hoursView() {
  const gen = generation;
  const msgs = messages();
  const area = h('div', { id: 'hours-area', 'aria-busy': 'true' }, loading());
  if (hoursDraft) renderForm();
  else load();
  return [heading(t('hours.title')), h('p', {}, t('hours.intro')), ...msgs.nodes, area];

  async function load() {
    let found;
    try {
      found = await call('GET', '/api/v1/availability');
    } catch (error) {
      if (!still(gen)) return;
      area.replaceChildren();
      area.removeAttribute('aria-busy');
      problem(error, msgs);
      return;
    }
    if (!still(gen)) return;
    hoursDraft = WEEKDAYS.map((_, day) =>
      found.hours
        .filter((window_) => window_.weekday === day)
        .map((window_) => ({ starts: window_.starts.slice(0, 5), ends: window_.ends.slice(0, 5) })),
    );
    renderForm(found.hours.length === 0);
  }

  function renderForm(none = false) {
    area.removeAttribute('aria-busy');
    const form = h(
      'form',
      { id: 'hours-form', novalidate: true, class: 'hours' },
      none ? h('p', { class: 'hint', id: 'no-hours' }, t('hours.none')) : null,
      hoursDraft.map((windows, day) =>
        h(
          'fieldset',
          { class: 'weekday', id: `day-${day}` },
          h('legend', {}, WEEKDAYS[day]()),
          windows.length
            ? windows.map((window_, index) =>
                h(
                  'div',
                  { class: 'window' },
                  field(`hours-${day}-${index}-from`, t('hours.from'), {
                    type: 'time',
                    step: '300',
                    value: window_.starts,
                    oninput: (event) => {
                      window_.starts = event.currentTarget.value;
                    },
                  }),
                  field(`hours-${day}-${index}-to`, t('hours.to'), {
                    type: 'time',
                    step: '300',
                    value: window_.ends,
                    oninput: (event) => {
                      window_.ends = event.currentTarget.value;
                    },
                  }),
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'secondary',
                      id: `hours-${day}-${index}-remove`,
                      onclick: () => {
                        windows.splice(index, 1);
                        renderForm();
                        document.getElementById(`hours-${day}-add`).focus();
                      },
                    },
                    t('hours.remove'),
                    h('span', { class: 'visually-hidden' }, ' ', WEEKDAYS[day]()),
                  ),
                ),
              )
            : h('p', { class: 'hint' }, t('hours.free')),
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              id: `hours-${day}-add`,
              onclick: () => {
                const previous = windows[windows.length - 1];
                windows.push(
                  previous
                    ? { starts: previous.ends, ends: '' }
                    : { starts: '08:30', ends: '17:00' },
                );
                renderForm();
                document.getElementById(`hours-${day}-${windows.length - 1}-from`).focus();
              },
            },
            t('hours.add'),
            h('span', { class: 'visually-hidden' }, ' ', WEEKDAYS[day]()),
          ),
        ),
      ),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'submit', id: 'save-hours' }, t('hours.submit')),
        h('a', { href: '#/agenda', class: 'button secondary' }, t('form.back')),
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      let first = null;
      const hours = [];
      hoursDraft.forEach((windows, day) =>
        windows.forEach((window_, index) => {
          const from = document.getElementById(`hours-${day}-${index}-from`);
          const to = document.getElementById(`hours-${day}-${index}-to`);
          let wrong = null;
          if (!window_.starts || !window_.ends) wrong = t('field.empty');
          else if (window_.ends <= window_.starts) wrong = t('hours.endBeforeStart');
          markField(to, wrong && window_.starts ? wrong : null);
          markField(from, wrong && !window_.starts ? wrong : null);
          if (wrong && !first) first = window_.starts ? to : from;
          hours.push({ weekday: day, starts: window_.starts, ends: window_.ends });
        }),
      );
      if (first) {
        msgs.alert(t('hours.invalid'));
        first.focus();
        return;
      }
      busy(form.querySelector('#save-hours'), t('agenda.saving'), async () => {
        try {
          await call('PUT', '/api/v1/availability/hours', { hours });
          if (!still(gen)) return;
          msgs.notice(t('hours.saved'));
          const none = document.getElementById('no-hours');
          if (none && hours.length) none.remove();
        } catch (error) {
          if (!still(gen)) return;
          problem(error, msgs, { invalid: t('hours.invalid') });
        }
      });
    });
    area.replaceChildren(form);
  }
}
