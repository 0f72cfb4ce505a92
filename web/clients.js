// The client file for workers: find a client, read the file as one timeline (contacts, notes,
// appointments, consent changes), write a report or a note (from an appointment too), edit
// one (with a merge when a colleague saved first), its history, and the noodknop (emergency
// access) for a worker outside the care team.
//
// Routes: #/clients (search), #/clients/<id> (the file), #/clients/<id>/write[/<appointment>]
// (a report: shared by default), #/clients/<id>/note[/<appointment>] (a note: professional by
// default), #/clients/<id>/notes/<note>/edit, #/clients/<id>/notes/<note>/history.

import { ApiError, call } from './api.js';
import { KIND_TEXT, ROLE_TEXT, STATUS_TEXT, busy, choice, messages, retryKeys } from './agenda.js';
import { currentLanguage, formatDateTime, t } from './i18n.js';
import { addDays, dayOf, formatLongDay, formatRange, instantAt, isDay, today } from './time.js';
import { announce, data, h, icon, markField } from './ui.js';

// The effectenster's life domains, in the order of the star.
const DOMAINS = [
  'motivation',
  'self_care',
  'money',
  'social_network',
  'substance_use',
  'physical_health',
  'mental_health',
  'daily_activities',
  'housing',
  'offending',
];

const DOMAIN_TEXT = {
  motivation: () => t('star.motivation'),
  self_care: () => t('star.self_care'),
  money: () => t('star.money'),
  social_network: () => t('star.social_network'),
  substance_use: () => t('star.substance_use'),
  physical_health: () => t('star.physical_health'),
  mental_health: () => t('star.mental_health'),
  daily_activities: () => t('star.daily_activities'),
  housing: () => t('star.housing'),
  offending: () => t('star.offending'),
};

const KINDS = ['contact', 'note', 'appointment', 'consent'];

const KIND_FILTER_TEXT = {
  contact: () => t('timeline.kind.contact'),
  note: () => t('timeline.kind.note'),
  appointment: () => t('timeline.kind.appointment'),
  consent: () => t('timeline.kind.consent'),
};

const MEDIA_TEXT = {
  direct: () => t('contact.direct'),
  relay: () => t('contact.relay'),
};

const ENDED_TEXT = {
  ended_by_host: () => t('contact.ended.ended_by_host'),
  everyone_left: () => t('contact.ended.everyone_left'),
  host_gone: () => t('contact.ended.host_gone'),
};

const TOPIC_TEXT = {
  video_calls: () => t('consent.topic.video_calls'),
  guests_in_calls: () => t('consent.topic.guests_in_calls'),
  tablet_auto_answer: () => t('consent.topic.tablet_auto_answer'),
  recording: () => t('consent.topic.recording'),
  client_wifi: () => t('consent.topic.client_wifi'),
};

const METHOD_TEXT = {
  spoken: () => t('consent.how.spoken'),
  signed: () => t('consent.how.signed'),
  digital: () => t('consent.how.digital'),
};

const NETWORK_ROLE = {
  family: () => t('network.role.family'),
  mantelzorger: () => t('network.role.mantelzorger'),
  bewindvoerder: () => t('network.role.bewindvoerder'),
  interpreter: () => t('network.role.interpreter'),
  mentor: () => t('network.role.mentor'),
  curator: () => t('network.role.curator'),
  parent_with_authority: () => t('network.role.parent_with_authority'),
  other: () => t('network.role.other'),
};

const LEGAL_TEXT = {
  wmo_2015: () => t('file.legal.wmo_2015'),
  jeugdwet: () => t('file.legal.jeugdwet'),
  wgbo: () => t('file.legal.wgbo'),
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REASON_MIN = 10;

let shell = null; // what the shell lends: me(), explain(error), failed(error), go(hash)
let generation = 0; // each render; loading only fills the page it was started for
let flash = null; // a notice for the next view: [parts]
let lastRoute = null;
// What is typed in a note form, kept while its route stays (a language switch re-renders):
// { route, values: { text, visibility, effectenster }, open, version }.
let draft = null;
const pressed = new Map(); // client id -> the emergency access just opened here (its reason)
const names = new Map(); // staff subject -> display name, from what the pages have loaded

// Small pieces -------------------------------------------------------------------------------

function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

function loading() {
  return h('p', { role: 'status', class: 'loading' }, t('agenda.loading'));
}

function still(gen) {
  return gen === generation;
}

function fileLink(clientId) {
  return `#/clients/${clientId}`;
}

function when(iso) {
  return data(formatDateTime(new Date(iso)), 'time', { datetime: iso });
}

function birthDay(day) {
  const locale = currentLanguage() === 'en' ? 'en-GB' : 'nl-NL';
  return new Intl.DateTimeFormat(locale, {
    timeZone: 'UTC',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(new Date(`${day}T12:00:00Z`));
}

function nameOf(subject, knownName = null) {
  if (knownName) {
    if (subject) names.set(subject, knownName);
    return data(knownName);
  }
  const me = shell.me();
  if (subject && subject === me.subject) return h('span', {}, t('file.you'));
  if (subject && names.has(subject)) return data(names.get(subject));
  return h('span', {}, t('file.colleague'));
}

function learnNames(note) {
  if (note.created_by && note.created_by_name) names.set(note.created_by, note.created_by_name);
  if (note.updated_by && note.updated_by_name) names.set(note.updated_by, note.updated_by_name);
}

// An error in words the user can act on; false if the shell took over (signed out).
function problem(error, msgs, context = {}) {
  if (error instanceof ApiError && error.code === 'session_expired') {
    shell.failed(error);
    return false;
  }
  if (error instanceof ApiError) {
    if (error.status === 404) return msgs.alert(context.notFound || t('file.notFound'));
    if (error.status === 403) return msgs.alert(context.forbidden || t('file.forbidden'));
    if (error.status === 422) return msgs.alert(context.invalid || t('agenda.error.invalid'));
  }
  return msgs.alert(shell.explain(error));
}

function visibilityBadge(visibility) {
  const shared = visibility === 'shared';
  return h(
    'span',
    { class: `visibility ${shared ? 'vis-shared' : 'vis-professional'}`, 'data-visibility': visibility },
    shared ? t('note.shared') : t('note.professional'),
  );
}

function scoreList(effectenster, id = null) {
  if (!effectenster) return null;
  const scored = DOMAINS.filter((domain) => Number.isInteger(effectenster[domain]));
  if (!scored.length) return null;
  return h(
    'div',
    { class: 'scores-box' },
    h('p', { class: 'scores-title' }, t('star.title')),
    h(
      'dl',
      { class: 'scores', id },
      scored.map((domain) => [
        h('dt', {}, DOMAIN_TEXT[domain]()),
        h('dd', { 'data-domain': domain }, data(effectenster[domain])),
      ]),
    ),
  );
}

// Views --------------------------------------------------------------------------------------

export function clientsTitle(rest) {
  const [id, page, , action] = rest;
  if (!id) return t('nav.clients');
  if (page === 'write') return t('write.reportTitle');
  if (page === 'note') return t('write.noteTitle');
  if (page === 'notes' && action === 'edit') return t('edit.title');
  if (page === 'notes' && action === 'history') return t('history.title');
  return t('file.title');
}

export function clientsView(rest, env) {
  shell = env;
  generation += 1;
  const route = rest.join('/');
  if (route !== lastRoute || (draft && draft.route !== route)) draft = null;
  lastRoute = route;
  const me = env.me();
  names.set(me.subject, me.display_name);
  if (!me.roles.includes('worker') && !me.roles.includes('coordinator')) {
    return [
      heading(t('nav.clients')),
      h('div', { class: 'empty' }, h('p', {}, t('clients.notForYou'))),
    ];
  }
  const [id, page, arg, action] = rest;
  if (!id) return searchView();
  if (!UUID_RE.test(id)) {
    return [heading(t('file.title')), h('div', { class: 'alert', role: 'alert' }, t('file.notFound'))];
  }
  const appointment = arg && UUID_RE.test(arg) ? arg : null;
  if (page === 'write') return writeView(id, 'report', appointment);
  if (page === 'note') return writeView(id, 'note', appointment);
  if (page === 'notes' && arg && action === 'edit') return editView(id, arg);
  if (page === 'notes' && arg && action === 'history') return historyView(id, arg);
  return fileView(id);
}

// Finding a client ---------------------------------------------------------------------------

function searchView() {
  const gen = generation;
  const msgs = messages();
  const input = h('input', {
    id: 'clients-q',
    name: 'q',
    type: 'search',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'clients-q-hint',
    'data-hint': 'clients-q-hint',
  });
  const status = h('p', { class: 'hint', role: 'status', id: 'clients-status' });
  const results = h('ul', { class: 'client-list', id: 'clients-list' });
  const more = h(
    'button',
    { type: 'button', class: 'secondary', id: 'clients-more', hidden: true, onclick: () => search(true) },
    t('timeline.more'),
  );
  const form = h(
    'form',
    { id: 'clients-form', novalidate: true, role: 'search' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'clients-q' }, t('clients.search.label')),
      h('p', { class: 'hint', id: 'clients-q-hint' }, t('clients.search.hint')),
      h(
        'div',
        { class: 'search-row' },
        input,
        h('button', { type: 'submit', id: 'clients-search' }, t('picker.search')),
      ),
    ),
  );
  let cursor = null;
  let asked = 0;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    search(false);
  });
  search(false);
  return [
    heading(t('nav.clients')),
    h('p', {}, t('clients.intro')),
    ...msgs.nodes,
    form,
    status,
    results,
    h('p', {}, more),
  ];

  async function search(next) {
    asked += 1;
    const mine = asked;
    const q = input.value.trim();
    status.replaceChildren(t('picker.searching'));
    let page;
    try {
      const params = new URLSearchParams({ limit: '20' });
      if (q) params.set('q', q);
      if (next && cursor) params.set('cursor', cursor);
      page = await call('GET', `/api/v1/clients?${params}`);
    } catch (error) {
      if (!still(gen) || mine !== asked) return;
      status.replaceChildren();
      problem(error, msgs);
      return;
    }
    if (!still(gen) || mine !== asked) return;
    msgs.clear();
    cursor = page.next_cursor;
    more.hidden = !cursor;
    const items = page.items.map(clientRow);
    if (next) results.append(...items);
    else results.replaceChildren(...items);
    const count = results.children.length;
    status.replaceChildren(
      ...(count
        ? [data(count), ' ', h('span', {}, count === 1 ? t('clients.foundOne') : t('clients.found'))]
        : [h('span', {}, q ? t('clients.none') : t('clients.noneAtAll'))]),
    );
  }
}

function clientRow(client) {
  const basis = client.access ? client.access.basis : null;
  return h(
    'li',
    {},
    h(
      'a',
      { href: fileLink(client.id), class: 'client-row', 'data-id': client.id },
      data(client.name, 'span', { class: 'client-name' }),
      client.date_of_birth ? data(birthDay(client.date_of_birth), 'span', { class: 'hint' }) : null,
      client.address ? data(client.address.town, 'span', { class: 'hint' }) : null,
      basis === 'emergency' ? h('span', { class: 'flag' }, t('access.emergency.badge')) : null,
      basis === 'handover' ? h('span', { class: 'flag' }, t('access.handover.badge')) : null,
      client.file_state === 'closed' ? h('span', { class: 'flag' }, t('file.closed')) : null,
    ),
  );
}

// The file -----------------------------------------------------------------------------------

function fileView(id) {
  const gen = generation;
  const msgs = messages();
  const send = retryKeys();
  const title = heading(t('file.title'));
  const body = h('div', { id: 'client-file', 'aria-busy': 'true' }, loading());
  if (flash) {
    msgs.notice(...flash);
    announce(...flash.map((part) => (typeof part === 'string' ? part : part.cloneNode(true))));
    flash = null;
  }
  load();
  return [
    h('p', {}, h('a', { href: '#/clients', class: 'back-link', id: 'back' }, t('file.back'))),
    title,
    ...msgs.nodes,
    body,
  ];

  async function load() {
    let client;
    try {
      client = await call('GET', `/api/v1/clients/${id}`);
    } catch (error) {
      if (!still(gen)) return;
      body.removeAttribute('aria-busy');
      body.replaceChildren();
      if (error instanceof ApiError && error.status === 403) {
        body.replaceChildren(...refusal());
        announce(t('file.refused'));
        return;
      }
      problem(error, msgs);
      return;
    }
    if (!still(gen)) return;
    title.replaceChildren(data(client.name));
    show(client);
  }

  // Not in the care team: a plain refusal, and the noodknop with a written reason.
  function refusal() {
    const reason = h('textarea', {
      id: 'emergency-reason',
      name: 'reason',
      rows: '4',
      maxlength: '2000',
      required: true,
      'aria-describedby': 'emergency-reason-hint',
      'data-hint': 'emergency-reason-hint',
    });
    const form = h(
      'form',
      { id: 'emergency-form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'emergency-reason' }, t('emergency.reason')),
        h('p', { class: 'hint', id: 'emergency-reason-hint' }, t('emergency.reasonHint')),
        reason,
      ),
      h('button', { type: 'submit', id: 'emergency-open', class: 'danger-solid' }, t('emergency.open')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (text.length < REASON_MIN) {
        markField(reason, text ? t('emergency.tooShort') : t('field.empty'));
        msgs.alert(t('emergency.needReason'));
        reason.focus();
        return;
      }
      markField(reason, null);
      busy(form.querySelector('#emergency-open'), t('emergency.busy'), async () => {
        try {
          const opened = await send('POST', `/api/v1/clients/${id}/emergency-access`, {
            reason: text,
          });
          pressed.set(id, opened);
          if (!still(gen)) return;
          flash = [t('emergency.opened')];
          shell.go(fileLink(id));
        } catch (error) {
          if (!still(gen)) return;
          if (error instanceof ApiError && error.status === 409) {
            shell.go(fileLink(id)); // access already there: just show the file
            return;
          }
          if (error instanceof ApiError && error.status === 422) {
            markField(reason, t('emergency.tooShort'));
            msgs.alert(t('emergency.needReason'));
            reason.focus();
            return;
          }
          problem(error, msgs);
        }
      });
    });
    return [
      h(
        'div',
        { class: 'refusal', id: 'file-refused' },
        h('p', {}, h('strong', {}, t('file.refused'))),
        h('p', {}, t('file.refusedHint')),
      ),
      h('h2', {}, t('emergency.title')),
      h('p', {}, t('emergency.intro')),
      h('p', {}, t('emergency.reported')),
      form,
    ];
  }

  function show(client) {
    body.removeAttribute('aria-busy');
    const basis = client.access.basis;
    const canWrite =
      (basis === 'care_team' || basis === 'handover') && client.file_state !== 'closed';
    const unreached = h('div', { id: 'unreached-area' });
    const side = h('div', { class: 'file-side', id: 'file-side' });
    const timeline = timelineSection(client, canWrite, unreached, () => sideSections(id, side));
    body.replaceChildren(
      accessBanner(client) || '',
      unreached,
      h(
        'div',
        { class: 'file-grid' },
        h(
          'div',
          { class: 'file-main' },
          facts(client),
          canWrite
            ? h(
                'p',
                { class: 'buttons', id: 'write-buttons' },
                h(
                  'a',
                  { class: 'button', id: 'write-report', href: `${fileLink(id)}/write` },
                  t('file.writeReport'),
                ),
                h(
                  'a',
                  { class: 'button secondary', id: 'add-note', href: `${fileLink(id)}/note` },
                  t('file.addNote'),
                ),
              )
            : null,
          timeline,
        ),
        side,
      ),
    );
  }
}

function facts(client) {
  const address = client.address;
  return h(
    'dl',
    { class: 'facts', id: 'client-facts' },
    client.date_of_birth
      ? [h('dt', {}, t('file.born')), h('dd', {}, data(birthDay(client.date_of_birth)))]
      : null,
    client.phone
      ? [
          h('dt', {}, t('file.phone')),
          h('dd', {}, data(client.phone, 'a', { href: `tel:${client.phone.replace(/\s+/g, '')}` })),
        ]
      : null,
    address
      ? [
          h('dt', {}, t('file.address')),
          h('dd', {}, data(`${address.street}, ${address.postcode} ${address.town}`)),
        ]
      : null,
    h('dt', {}, t('file.legalBasis')),
    h('dd', {}, LEGAL_TEXT[client.legal_basis] ? LEGAL_TEXT[client.legal_basis]() : data(client.legal_basis)),
    h('dt', {}, t('file.state')),
    h('dd', {}, client.file_state === 'closed' ? t('file.closed') : t('file.open')),
  );
}

// Why the caller may read this file, when it is not the plain care team.
function accessBanner(client) {
  const access = client.access;
  if (access.basis === 'emergency') {
    const reasonLine = h('p', { id: 'emergency-reason-shown' });
    const banner = h(
      'section',
      { class: 'banner flagged', id: 'emergency-banner', 'aria-labelledby': 'emergency-banner-title' },
      h('h2', { id: 'emergency-banner-title' }, t('access.emergency.title')),
      h('p', {}, t('access.emergency.text')),
      reasonLine,
      access.expires_at
        ? h('p', {}, h('span', {}, t('access.until')), ' ', when(access.expires_at))
        : null,
      h('p', {}, h('strong', {}, t('access.emergency.reported'))),
      h('p', {}, t('access.emergency.readOnly')),
    );
    const showReason = (record) => {
      if (record && record.reason) {
        reasonLine.replaceChildren(h('span', {}, t('access.emergency.reason')), ' ', data(record.reason));
      }
    };
    if (pressed.has(client.id)) showReason(pressed.get(client.id));
    else {
      // Reloaded since the noodknop: the reason is on the record, if we may read it.
      call('GET', `/api/v1/clients/${client.id}/emergency-accesses`)
        .then((found) => {
          const me = shell.me();
          const mine = found.items.filter((r) => r.subject === me.subject && r.active);
          showReason(mine[mine.length - 1]);
        })
        .catch(() => {
          // Not ours to read: the banner says enough without the reason.
        });
    }
    return banner;
  }
  if (access.basis === 'handover') {
    return h(
      'section',
      { class: 'banner handover', id: 'handover-banner', 'aria-labelledby': 'handover-title' },
      h('h2', { id: 'handover-title' }, t('access.handover.title')),
      h(
        'p',
        {},
        h('span', {}, t('access.handover.onBehalfOf')),
        ' ',
        nameOf(access.on_behalf_of),
        access.expires_at ? [' · ', h('span', {}, t('access.until')), ' ', when(access.expires_at)] : null,
      ),
    );
  }
  return null;
}

// The timeline -------------------------------------------------------------------------------

function timelineSection(client, canWrite, unreachedArea, afterFirst) {
  const gen = generation;
  const msgs = messages();
  const filter = { kinds: new Set(KINDS), from: '', to: '' };
  const list = h('ol', { class: 'timeline', id: 'timeline' });
  const status = h('p', { class: 'hint', role: 'status', id: 'timeline-status' });
  const more = h(
    'button',
    { type: 'button', class: 'secondary', id: 'timeline-more', hidden: true },
    t('timeline.more'),
  );
  let cursor = null;
  let first = true;
  const form = h(
    'form',
    { id: 'timeline-filter', class: 'filters', novalidate: true },
    h(
      'fieldset',
      { class: 'chips' },
      h('legend', {}, t('timeline.show')),
      KINDS.map((kind) =>
        choice('checkbox', 'kinds', `filter-${kind}`, kind, KIND_FILTER_TEXT[kind](), true, (event) => {
          if (event.currentTarget.checked) filter.kinds.add(kind);
          else filter.kinds.delete(kind);
        }),
      ),
    ),
    h(
      'fieldset',
      { class: 'period' },
      h('legend', {}, t('timeline.period')),
      dateField('filter-from', t('timeline.from'), (value) => {
        filter.from = value;
      }),
      dateField('filter-to', t('timeline.to'), (value) => {
        filter.to = value;
      }),
    ),
    h('button', { type: 'submit', id: 'filter-apply', class: 'secondary' }, t('timeline.apply')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const from = form.querySelector('#filter-from');
    const to = form.querySelector('#filter-to');
    const wrong = filter.from && filter.to && filter.to < filter.from;
    markField(to, wrong ? t('timeline.toBeforeFrom') : null);
    if (wrong) {
      msgs.alert(t('timeline.toBeforeFrom'));
      to.focus();
      return;
    }
    if (!filter.kinds.size) {
      msgs.alert(t('timeline.chooseKind'));
      form.querySelector('#filter-contact').focus();
      return;
    }
    markField(from, null);
    busy(form.querySelector('#filter-apply'), t('agenda.loading'), () => load(false));
  });
  more.addEventListener('click', () => busy(more, t('agenda.loading'), () => load(true)));
  const section = h(
    'section',
    { class: 'timeline-section', 'aria-labelledby': 'timeline-title' },
    h('h2', { id: 'timeline-title' }, t('timeline.title')),
    form,
    ...msgs.nodes,
    status,
    list,
    h('p', {}, more),
  );
  load(false);
  return section;

  async function load(next) {
    const params = new URLSearchParams({ limit: '50' });
    if (filter.kinds.size < KINDS.length) params.set('kinds', [...filter.kinds].join(','));
    if (filter.from && isDay(filter.from)) params.set('since', instantAt(filter.from).toISOString());
    // Up to the end of today unless asked otherwise: a series planned for a year would
    // otherwise fill the first page (newest first); what is planned is listed beside.
    const last = filter.to && isDay(filter.to) ? filter.to : today();
    params.set('until', instantAt(addDays(last, 1)).toISOString());
    if (next && cursor) params.set('cursor', cursor);
    status.replaceChildren(t('agenda.loading'));
    let page;
    try {
      page = await call('GET', `/api/v1/clients/${client.id}/timeline?${params}`);
    } catch (error) {
      if (!still(gen)) return;
      status.replaceChildren();
      if (error instanceof ApiError && error.status === 403) {
        msgs.alert(t('file.hiddenForYou'));
      } else problem(error, msgs);
      if (first) {
        first = false;
        afterFirst();
      }
      return;
    }
    if (!still(gen)) return;
    msgs.clear();
    for (const item of page.items) if (item.note) learnNames(item.note);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    const items = page.items.map((item) => timelineItem(item, client, canWrite));
    if (next) list.append(...items);
    else list.replaceChildren(...items);
    if (!next) unreachedArea.replaceChildren(unreachedBanner(page.unreached));
    const count = list.children.length;
    status.replaceChildren(
      ...(count
        ? [data(count), ' ', h('span', {}, count === 1 ? t('timeline.countOne') : t('timeline.count'))]
        : [h('span', {}, t('timeline.empty'))]),
    );
    if (first) {
      first = false;
      afterFirst();
    }
  }
}

function dateField(id, label, oninput) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('input', {
      id,
      name: id,
      type: 'date',
      oninput: (event) => oninput(event.currentTarget.value),
      onchange: (event) => oninput(event.currentTarget.value),
    }),
  );
}

function unreachedBanner(unreached) {
  if (!unreached || !unreached.attempts) return '';
  return h(
    'div',
    { class: 'banner unreached', id: 'unreached', role: 'status' },
    h(
      'p',
      {},
      h('strong', {}, data(unreached.attempts), ' ', h('span', {}, t('timeline.unreached'))),
    ),
    h(
      'p',
      {},
      h('span', {}, t('timeline.unreachedSince')),
      ' ',
      when(unreached.since),
      ' · ',
      h('span', {}, t('timeline.unreachedLast')),
      ' ',
      when(unreached.last_at),
    ),
  );
}

function timelineItem(item, client, canWrite) {
  let content = null;
  if (item.kind === 'contact' && item.contact) content = contactItem(item.contact, client, canWrite);
  else if (item.kind === 'note' && item.note) content = noteItem(item.note, client, canWrite);
  else if (item.kind === 'appointment' && item.appointment) content = appointmentItem(item.appointment);
  else if (item.kind === 'consent' && item.consent) content = consentItem(item.consent);
  const headId = `item-${item.id}`;
  return h(
    'li',
    {
      class: `timeline-item item-${item.kind}`,
      'data-kind': item.kind,
      'data-id': item.id,
      'data-appointment': appointmentOf(item),
    },
    h(
      'p',
      { class: 'item-head', id: headId },
      h(
        'span',
        { class: 'item-title' },
        content ? content.head : h('span', {}, KIND_FILTER_TEXT[item.kind] ? KIND_FILTER_TEXT[item.kind]() : ''),
      ),
      h('span', { class: 'item-when' }, when(item.at)),
    ),
    content ? content.body : null,
  );
}

function appointmentOf(item) {
  if (item.contact) return item.contact.appointment_id;
  if (item.note) return item.note.appointment_id;
  if (item.appointment) return item.appointment.id;
  return null;
}

function minutes(seconds) {
  return Math.max(1, Math.round((seconds || 0) / 60));
}

function contactItem(c, client, canWrite) {
  const outsiders = c.people.filter((p) => p.role !== 'worker');
  const opened = outsiders.some((p) => p.opened_link);
  let head;
  if (c.kind === 'call') {
    head = [
      h('span', { class: 'item-kind' }, t('contact.call')),
      ' ',
      data(minutes(c.duration_s)),
      ' ',
      h('span', {}, t('contact.minutes')),
    ];
  } else if (c.kind === 'not_joined') {
    head = h(
      'span',
      { class: 'item-kind' },
      opened ? t('contact.notJoinedOpened') : t('contact.notJoined'),
    );
  } else if (c.kind === 'visit') {
    head = h('span', { class: 'item-kind' }, t('contact.visit'));
  } else if (c.kind === 'nobody_home') {
    head = h('span', { class: 'item-kind' }, t('contact.nobodyHome'));
  } else {
    head = [
      h('span', { class: 'item-kind' }, t('contact.caseMeeting')),
      c.topic ? [' ', data(c.topic)] : null,
    ];
  }
  const took = c.people.filter((p) => p.took_part);
  const lines = [];
  if (c.attempt && c.attempts) {
    lines.push(
      h(
        'p',
        { class: 'attempt' },
        h('span', {}, t('contact.attempt')),
        ' ',
        data(c.attempt),
        ' ',
        h('span', {}, t('contact.of')),
        ' ',
        data(c.attempts),
      ),
    );
  }
  if (took.length) {
    lines.push(
      h(
        'p',
        { class: 'people-line' },
        h('span', {}, t('contact.tookPart')),
        ' ',
        took.map((p, index) => [index ? ', ' : '', personName(p, client)]),
      ),
    );
  }
  const details = [];
  if (c.media_path && MEDIA_TEXT[c.media_path]) details.push(h('span', {}, MEDIA_TEXT[c.media_path]()));
  if (c.reconnects) {
    details.push([data(c.reconnects), ' ', h('span', {}, t('contact.reconnects'))]);
  }
  if (c.kind === 'call' && c.ended_because && ENDED_TEXT[c.ended_because]) {
    details.push(h('span', {}, ENDED_TEXT[c.ended_because]()));
  }
  if (details.length) {
    lines.push(h('p', { class: 'hint' }, details.map((part, index) => [index ? ' · ' : '', part])));
  }
  if (canWrite && c.appointment_id) {
    lines.push(
      h(
        'p',
        {},
        h(
          'a',
          {
            href: `${fileLink(client.id)}/write/${c.appointment_id}`,
            class: 'button secondary small-button',
            'aria-describedby': `item-${c.id}`,
          },
          t('file.writeReport'),
        ),
      ),
    );
  }
  return { head, body: lines };
}

function personName(person, client) {
  if (person.role === 'client') return data(client.name);
  if (person.role === 'worker' && person.subject) return nameOf(person.subject, person.name);
  return h('span', {}, ROLE_TEXT[person.role] ? ROLE_TEXT[person.role]() : '');
}

function noteItem(note, client, canWrite) {
  const head = [
    h('span', { class: 'item-kind' }, note.appointment_id ? t('note.report') : t('note.note')),
    ' ',
    visibilityBadge(note.visibility),
  ];
  const body = [
    data(note.text, 'div', { class: 'note-text' }),
    scoreList(note.effectenster),
    h(
      'p',
      { class: 'hint note-meta' },
      h('span', {}, t('note.writtenBy')),
      ' ',
      nameOf(note.created_by, note.created_by_name),
      note.version > 1
        ? [
            ' · ',
            h('span', {}, t('note.changedBy')),
            ' ',
            nameOf(note.updated_by, note.updated_by_name),
            ' ',
            when(note.updated_at),
          ]
        : null,
      ' · ',
      h('span', {}, t('note.version')),
      ' ',
      data(note.version),
    ),
  ];
  const actions = [];
  if (canWrite) {
    actions.push(
      h(
        'a',
        {
          href: `${fileLink(client.id)}/notes/${note.id}/edit`,
          class: 'button secondary',
          id: `edit-${note.id}`,
          'aria-describedby': `item-${note.id}`,
        },
        t('note.edit'),
      ),
    );
  }
  if (note.version > 1) {
    actions.push(
      h(
        'a',
        {
          href: `${fileLink(client.id)}/notes/${note.id}/history`,
          class: 'button secondary',
          id: `history-${note.id}`,
          'aria-describedby': `item-${note.id}`,
        },
        t('note.history'),
      ),
    );
  }
  if (actions.length) body.push(h('p', { class: 'buttons' }, actions));
  return { head, body };
}

function appointmentItem(a) {
  const starts = new Date(a.starts_at);
  const head = [
    h('span', { class: 'kind item-kind' }, icon(a.kind), h('span', {}, KIND_TEXT[a.kind]())),
  ];
  const body = h(
    'p',
    {},
    data(formatLongDay(dayOf(starts))),
    ', ',
    data(formatRange(starts, new Date(a.ends_at))),
    ' · ',
    h(
      'span',
      { class: `status-${a.status}` },
      STATUS_TEXT[a.status] ? STATUS_TEXT[a.status]() : data(a.status),
    ),
    a.title ? [' · ', data(a.title)] : null,
  );
  return { head, body };
}

function consentItem(record) {
  const head = [
    h('span', { class: 'item-kind' }, t('consent.change')),
    ' ',
    h('span', {}, TOPIC_TEXT[record.topic] ? TOPIC_TEXT[record.topic]() : data(record.topic)),
  ];
  const body = h(
    'p',
    {},
    h('strong', {}, record.decision === 'given' ? t('consent.given') : t('consent.withdrawn')),
    ' ',
    givenBy(record),
    METHOD_TEXT[record.how] ? [' · ', h('span', {}, METHOD_TEXT[record.how]())] : null,
    ' · ',
    h('span', {}, t('consent.recordedBy')),
    ' ',
    nameOf(record.recorded_by, record.recorded_by_name),
  );
  return { head, body };
}

function givenBy(record) {
  if (record.given_by === 'client') return h('span', {}, t('consent.byClient'));
  return [
    h('span', {}, t('consent.byRepresentative')),
    record.representative_role && NETWORK_ROLE[record.representative_role]
      ? [' (', h('span', {}, NETWORK_ROLE[record.representative_role]()), ')']
      : null,
  ];
}

// Consent, care team and network beside the timeline -----------------------------------------

function sideSections(clientId, side) {
  const gen = generation;
  const upcoming = sideSection('upcoming', t('upcoming.title'));
  const consent = sideSection('consent', t('consent.title'));
  const team = sideSection('care-team', t('team.title'));
  const network = sideSection('network', t('network.title'));
  side.replaceChildren(upcoming.section, consent.section, team.section, network.section);
  const tomorrow = instantAt(addDays(today(), 1)).toISOString();
  fill(
    upcoming,
    `/api/v1/clients/${clientId}/timeline?kinds=appointment&limit=200&since=${encodeURIComponent(tomorrow)}`,
    upcomingList,
  );
  fill(consent, `/api/v1/clients/${clientId}/consent`, consentOverview);
  fill(team, `/api/v1/clients/${clientId}/care-team`, careTeam);
  fill(network, `/api/v1/clients/${clientId}/network`, networkList);

  async function fill(part, path, render) {
    let found;
    try {
      found = await call('GET', path);
    } catch (error) {
      if (!still(gen)) return;
      part.body.removeAttribute('aria-busy');
      if (error instanceof ApiError && error.code === 'session_expired') {
        shell.failed(error);
        return;
      }
      part.body.replaceChildren(
        h(
          'p',
          { class: 'hint hidden-for-you' },
          error instanceof ApiError && (error.status === 403 || error.status === 404)
            ? t('file.hiddenForYou')
            : shell.explain(error),
        ),
      );
      return;
    }
    if (!still(gen)) return;
    part.body.removeAttribute('aria-busy');
    part.body.replaceChildren(...[render(found)].flat().filter(Boolean));
  }
}

function sideSection(id, title) {
  const body = h('div', { id: `${id}-body`, 'aria-busy': 'true' }, loading());
  return {
    body,
    section: h(
      'section',
      { class: 'side-section', id, 'aria-labelledby': `${id}-title` },
      h('h2', { id: `${id}-title` }, title),
      body,
    ),
  };
}

// What is planned after today, the nearest first (the timeline shows up to today).
function upcomingList(found) {
  const planned = found.items
    .filter((item) => item.appointment && item.appointment.status !== 'cancelled')
    .reverse();
  if (!planned.length) return h('p', {}, t('upcoming.none'));
  const shown = planned.slice(0, 3);
  return [
    h(
      'ul',
      { class: 'upcoming-list', id: 'upcoming-list' },
      shown.map((item) => {
        const a = item.appointment;
        const starts = new Date(a.starts_at);
        return h(
          'li',
          { 'data-id': a.id },
          h('span', { class: 'kind' }, icon(a.kind), h('span', {}, KIND_TEXT[a.kind]())),
          ' ',
          data(formatLongDay(dayOf(starts))),
          ', ',
          data(formatRange(starts, new Date(a.ends_at))),
        );
      }),
    ),
    planned.length > shown.length
      ? h('p', { class: 'hint' }, h('span', {}, t('upcoming.more')), ' ', data(planned.length - shown.length))
      : null,
  ];
}

function consentOverview(found) {
  if (!found.current.length) return h('p', {}, t('consent.none'));
  return h(
    'ul',
    { class: 'consent-list', id: 'consent-current' },
    found.current.map((now) =>
      h(
        'li',
        { 'data-topic': now.topic, 'data-given': String(now.given) },
        h('span', {}, TOPIC_TEXT[now.topic] ? TOPIC_TEXT[now.topic]() : data(now.topic)),
        ': ',
        h(
          'strong',
          { class: now.given ? 'yes' : 'no' },
          now.given ? t('consent.yes') : t('consent.no'),
        ),
        now.decision && now.decision.given_by !== 'client'
          ? [' (', h('span', {}, t('consent.byRepresentative')), ')']
          : null,
      ),
    ),
  );
}

function careTeam(found) {
  if (!found.members.length) return h('p', {}, t('team.none'));
  return h(
    'ul',
    { class: 'team-list', id: 'care-team-list' },
    found.members.map((member) =>
      h(
        'li',
        { 'data-subject': member.subject },
        nameOf(member.subject, member.name),
        member.is_lead ? [' (', h('span', {}, t('team.lead')), ')'] : null,
      ),
    ),
  );
}

function networkList(found) {
  if (!found.items.length) return h('p', {}, t('network.none'));
  return h(
    'ul',
    { class: 'network-list', id: 'network-list' },
    found.items.map((member) =>
      h(
        'li',
        { 'data-id': member.id },
        h('p', {}, data(member.name, 'strong')),
        h(
          'p',
          { class: 'hint' },
          member.roles.map((role, index) => [
            index ? ', ' : '',
            h('span', {}, NETWORK_ROLE[role] ? NETWORK_ROLE[role]() : data(role)),
          ]),
          member.is_legal_representative
            ? [' · ', h('span', {}, t('network.representative'))]
            : null,
        ),
        member.phone
          ? h(
              'p',
              {},
              h('span', {}, t('file.phone')),
              ': ',
              data(member.phone, 'a', { href: `tel:${member.phone.replace(/\s+/g, '')}` }),
            )
          : null,
        member.email
          ? h(
              'p',
              {},
              h('span', {}, t('network.email')),
              ': ',
              data(member.email, 'a', { href: `mailto:${member.email}` }),
            )
          : null,
        member.language && member.language !== 'nl'
          ? h('p', {}, h('span', {}, t('network.language')), ': ', data(member.language))
          : null,
      ),
    ),
  );
}

// The note form: text, who may read it, the effectenster ----------------------------------------

// ``values``: { text, visibility, effectenster }. Returns { form, read } where read() gives
// the values to send, or null after marking what is wrong.
// ``keep``: an object whose ``values`` and ``open`` follow what is typed (see ``draft``).
function noteForm(prefix, values, { textLabel, textHint = null, submitText, back, keep = null }) {
  const textId = `${prefix}-text`;
  const hintId = textHint ? `${textId}-hint` : null;
  const text = h('textarea', {
    id: textId,
    name: textId,
    rows: '10',
    maxlength: '20000',
    required: true,
    'aria-describedby': hintId,
    'data-hint': hintId,
  });
  text.value = values.text || '';
  const scores = values.effectenster || {};
  const anyScore =
    keep && keep.open !== undefined
      ? keep.open
      : DOMAINS.some((domain) => Number.isInteger(scores[domain]));
  const star = h(
    'details',
    { class: 'star', id: `${prefix}-star`, open: anyScore },
    h('summary', {}, t('star.summary')),
    h('p', { class: 'hint', id: `${prefix}-star-hint` }, t('star.hint')),
    h(
      'div',
      { class: 'star-grid' },
      DOMAINS.map((domain) => {
        const id = `${prefix}-star-${domain}`;
        return h(
          'div',
          { class: 'field' },
          h('label', { for: id }, DOMAIN_TEXT[domain]()),
          h(
            'select',
            { id, name: id, 'data-domain': domain, 'aria-describedby': `${prefix}-star-hint` },
            h('option', { value: '', selected: !Number.isInteger(scores[domain]) }, t('star.none')),
            Array.from({ length: 10 }, (_, index) =>
              h('option', { value: String(index + 1), selected: scores[domain] === index + 1 }, String(index + 1)),
            ),
          ),
        );
      }),
    ),
  );
  const form = h(
    'form',
    { id: `${prefix}-form`, class: 'note-form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: textId }, textLabel),
      textHint ? h('p', { class: 'hint', id: hintId }, textHint) : null,
      text,
    ),
    h(
      'fieldset',
      { id: `${prefix}-visibility` },
      h('legend', {}, t('write.visibility')),
      choice(
        'radio',
        `${prefix}-visibility`,
        `${prefix}-shared`,
        'shared',
        t('write.shared'),
        values.visibility === 'shared',
        null,
      ),
      choice(
        'radio',
        `${prefix}-visibility`,
        `${prefix}-professional`,
        'professional',
        t('write.professional'),
        values.visibility === 'professional',
        null,
      ),
    ),
    star,
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', id: `${prefix}-save` }, submitText),
      h('a', { href: back, class: 'button secondary', id: `${prefix}-cancel` }, t('write.cancel')),
    ),
  );

  function current() {
    const effectenster = {};
    for (const select of star.querySelectorAll('select')) {
      if (select.value) effectenster[select.dataset.domain] = Number(select.value);
    }
    return {
      text: text.value,
      visibility: form.querySelector(`#${prefix}-shared`).checked ? 'shared' : 'professional',
      effectenster: Object.keys(effectenster).length ? effectenster : null,
    };
  }
  if (keep) {
    const remember = () => {
      keep.values = current();
      keep.open = star.open;
    };
    form.addEventListener('input', remember);
    form.addEventListener('change', remember);
    star.addEventListener('toggle', remember);
  }

  function read() {
    const value = text.value.trim();
    markField(text, value ? null : t('field.empty'));
    if (!value) {
      text.focus();
      return null;
    }
    return { ...current(), text: value };
  }

  // Marks the field the server named (details.field) and focuses it.
  function mark(fieldName) {
    if (fieldName === 'text') {
      markField(text, t('write.textWrong'));
      text.focus();
      return true;
    }
    if (fieldName && fieldName.startsWith('effectenster')) {
      star.open = true;
      const select = star.querySelector('select');
      if (select) select.focus();
      return true;
    }
    return false;
  }

  return { form, read, mark };
}

// A new report or note -----------------------------------------------------------------------

function writeView(clientId, mode, appointmentId) {
  const gen = generation;
  const msgs = messages();
  if (!draft) draft = { route: lastRoute, values: null, send: retryKeys() };
  const keep = draft;
  const send = keep.send;
  const report = mode === 'report';
  const about = h('div', { id: 'write-about', 'aria-busy': 'true' }, loading());
  const back = fileLink(clientId);
  const note = noteForm(
    'note',
    keep.values || { text: '', visibility: report ? 'shared' : 'professional', effectenster: null },
    {
      textLabel: report ? t('write.reportText') : t('write.noteText'),
      submitText: report ? t('write.saveReport') : t('write.saveNote'),
      back,
      keep,
    },
  );
  note.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = note.read();
    if (!values) {
      msgs.alert(t('error.required'));
      return;
    }
    const body = { visibility: values.visibility, text: values.text };
    if (values.effectenster) body.effectenster = values.effectenster;
    if (appointmentId) body.appointment_id = appointmentId;
    busy(note.form.querySelector('#note-save'), t('agenda.saving'), async () => {
      try {
        await send('POST', `/api/v1/clients/${clientId}/notes`, body);
        if (draft === keep) draft = null;
        if (!still(gen)) return;
        flash = [report ? t('write.savedReport') : t('write.savedNote')];
        shell.go(back);
      } catch (error) {
        if (!still(gen)) return;
        if (error instanceof ApiError && error.status === 422) {
          note.mark(error.details.field || error.reason);
          msgs.alert(t('write.invalid'));
          return;
        }
        problem(error, msgs, {
          notFound: appointmentId ? t('write.appointmentNotFound') : t('file.notFound'),
          forbidden: t('write.forbidden'),
        });
      }
    });
  });
  load();
  return [
    h('p', {}, h('a', { href: back, class: 'back-link', id: 'back' }, t('write.back'))),
    heading(report ? t('write.reportTitle') : t('write.noteTitle')),
    ...msgs.nodes,
    about,
    note.form,
  ];

  async function load() {
    const parts = [];
    try {
      const client = await call('GET', `/api/v1/clients/${clientId}`);
      if (!still(gen)) return;
      parts.push(h('dt', {}, t('appointment.client')), h('dd', {}, data(client.name)));
      if (client.access.basis === 'emergency') {
        msgs.alert(t('write.forbidden'));
        note.form.hidden = true; // emergency access reads only
      }
    } catch (error) {
      if (!still(gen)) return;
      about.removeAttribute('aria-busy');
      about.replaceChildren();
      problem(error, msgs, { forbidden: t('write.forbidden') });
      return;
    }
    if (appointmentId) {
      try {
        const a = await call('GET', `/api/v1/appointments/${appointmentId}`);
        if (!still(gen)) return;
        const starts = new Date(a.starts_at);
        parts.push(
          h('dt', {}, t('write.appointment')),
          h(
            'dd',
            { id: 'write-appointment' },
            h('span', { class: 'kind' }, icon(a.kind), h('span', {}, KIND_TEXT[a.kind]())),
            ' · ',
            data(formatLongDay(dayOf(starts))),
            ', ',
            data(formatRange(starts, new Date(a.ends_at))),
            ' · ',
            h('span', {}, STATUS_TEXT[a.status] ? STATUS_TEXT[a.status]() : ''),
            a.title ? [' · ', data(a.title)] : null,
          ),
        );
      } catch (error) {
        if (!still(gen)) return;
        problem(error, msgs, { notFound: t('write.appointmentNotFound') });
      }
    }
    about.removeAttribute('aria-busy');
    about.replaceChildren(h('dl', { class: 'facts' }, parts));
  }
}

// Editing a note, with a merge when a colleague saved first ------------------------------------

function editView(clientId, noteId) {
  const gen = generation;
  const msgs = messages();
  // The version edited is kept with the draft: after a re-render the save still names it.
  if (!draft) draft = { route: lastRoute, values: null, version: null, send: retryKeys() };
  const keep = draft;
  const send = keep.send;
  const back = fileLink(clientId);
  const path = `/api/v1/clients/${clientId}/notes/${noteId}`;
  const area = h('div', { id: 'edit-area', 'aria-busy': 'true' }, loading());
  load();
  return [
    h('p', {}, h('a', { href: back, class: 'back-link', id: 'back' }, t('write.back'))),
    heading(t('edit.title')),
    ...msgs.nodes,
    area,
  ];

  async function load() {
    let note;
    try {
      note = await call('GET', path);
    } catch (error) {
      if (!still(gen)) return;
      area.removeAttribute('aria-busy');
      area.replaceChildren();
      problem(error, msgs, { notFound: t('edit.notFound') });
      return;
    }
    if (!still(gen)) return;
    learnNames(note);
    area.removeAttribute('aria-busy');
    if (keep.version === null) keep.version = note.version;
    const edit = noteForm('note', keep.values || note, {
      textLabel: t('write.noteText'),
      submitText: t('edit.save'),
      back,
      keep,
    });
    edit.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const values = edit.read();
      if (!values) {
        msgs.alert(t('error.required'));
        return;
      }
      save(edit, { version: keep.version, ...values }, values);
    });
    area.replaceChildren(
      h(
        'p',
        { class: 'hint', id: 'edit-version' },
        h('span', {}, t('note.version')),
        ' ',
        data(note.version),
        ' · ',
        h('span', {}, t('note.changedBy')),
        ' ',
        nameOf(note.updated_by, note.updated_by_name),
        ' ',
        when(note.updated_at),
      ),
      edit.form,
    );
  }

  function save(part, body, mine) {
    busy(part.form.querySelector('button[type=submit]'), t('agenda.saving'), async () => {
      try {
        await send('PATCH', path, body);
        if (draft === keep) draft = null;
        if (!still(gen)) return;
        flash = [t('edit.saved')];
        shell.go(back);
      } catch (error) {
        if (!still(gen)) return;
        if (error instanceof ApiError && error.code === 'edit_conflict') {
          conflict(error.details, mine);
          return;
        }
        if (error instanceof ApiError && error.status === 422) {
          part.mark(error.details.field || error.reason);
          msgs.alert(t('write.invalid'));
          return;
        }
        problem(error, msgs, { notFound: t('edit.notFound'), forbidden: t('write.forbidden') });
      }
    });
  }

  // Both versions side by side, and one text to save that keeps both.
  function conflict(details, mine) {
    const current = details.current;
    const yours = details.yours || mine;
    const base = details.base || {};
    learnNames(current);
    const changed = (key) => JSON.stringify(yours[key] ?? null) !== JSON.stringify(base[key] ?? null);
    const merged = details.merged || { text: yours.text, clean: false };
    // From here on the merge is what is being edited, against the colleague's version.
    keep.version = current.version;
    keep.values = {
      text: merged.text,
      visibility: changed('visibility') ? yours.visibility : current.visibility,
      effectenster: changed('effectenster') ? yours.effectenster : current.effectenster,
    };
    keep.open = undefined;
    const merge = noteForm('merge', keep.values, {
      textLabel: t('conflict.merged'),
      textHint: merged.clean ? t('conflict.clean') : t('conflict.markers'),
      submitText: t('conflict.save'),
      back,
      keep,
    });
    merge.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const values = merge.read();
      if (!values) {
        msgs.alert(t('error.required'));
        return;
      }
      save(merge, { version: keep.version, ...values }, values);
    });
    area.replaceChildren(
      h('h2', { id: 'conflict-title', tabindex: '-1' }, t('conflict.title')),
      h('p', {}, t('conflict.intro')),
      h(
        'div',
        { class: 'compare' },
        h(
          'section',
          { class: 'version', id: 'conflict-yours', 'aria-labelledby': 'conflict-yours-title' },
          h('h3', { id: 'conflict-yours-title' }, t('conflict.yours')),
          h('p', {}, visibilityBadge(yours.visibility)),
          data(yours.text, 'div', { class: 'note-text' }),
          scoreList(yours.effectenster),
        ),
        h(
          'section',
          { class: 'version', id: 'conflict-theirs', 'aria-labelledby': 'conflict-theirs-title' },
          h(
            'h3',
            { id: 'conflict-theirs-title' },
            h('span', {}, t('conflict.theirs')),
            ' ',
            nameOf(current.updated_by, current.updated_by_name),
          ),
          h(
            'p',
            { class: 'hint' },
            h('span', {}, t('conflict.savedAt')),
            ' ',
            when(current.updated_at),
            ' · ',
            h('span', {}, t('note.version')),
            ' ',
            data(current.version),
          ),
          h('p', {}, visibilityBadge(current.visibility)),
          data(current.text, 'div', { class: 'note-text' }),
          scoreList(current.effectenster),
        ),
      ),
      merge.form,
    );
    msgs.alert(t('conflict.alert'));
    document.getElementById('conflict-title').focus();
  }
}

// The history of a note ----------------------------------------------------------------------

function historyView(clientId, noteId) {
  const gen = generation;
  const msgs = messages();
  const back = fileLink(clientId);
  const area = h('div', { id: 'history-area', 'aria-busy': 'true' }, loading());
  load();
  return [
    h('p', {}, h('a', { href: back, class: 'back-link', id: 'back' }, t('write.back'))),
    heading(t('history.title')),
    ...msgs.nodes,
    area,
  ];

  async function load() {
    let found;
    try {
      found = await call('GET', `/api/v1/clients/${clientId}/notes/${noteId}/history`);
    } catch (error) {
      if (!still(gen)) return;
      area.removeAttribute('aria-busy');
      area.replaceChildren();
      problem(error, msgs, { notFound: t('edit.notFound') });
      return;
    }
    if (!still(gen)) return;
    area.removeAttribute('aria-busy');
    area.replaceChildren(
      h('p', {}, t('history.intro')),
      h(
        'ol',
        { class: 'timeline history', id: 'history' },
        found.items.map((version) =>
          h(
            'li',
            { class: 'timeline-item', 'data-version': version.version },
            h(
              'p',
              { class: 'item-head' },
              h(
                'span',
                { class: 'item-title' },
                h('span', { class: 'item-kind' }, h('span', {}, t('note.version')), ' ', data(version.version)),
                ' ',
                visibilityBadge(version.visibility),
              ),
              h('span', { class: 'item-when' }, when(version.changed_at)),
            ),
            data(version.text, 'div', { class: 'note-text' }),
            scoreList(version.effectenster),
            h(
              'p',
              { class: 'hint' },
              h('span', {}, t('history.by')),
              ' ',
              nameOf(version.changed_by, version.changed_by_name),
            ),
          ),
        ),
      ),
    );
  }
}
