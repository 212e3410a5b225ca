// The mq console page: polls the JSON API and redraws. No framework, no build step.
// Everything from the server is inserted as text (never as HTML).
'use strict';

const state = { token: sessionStorage.getItem('mq-token') || '', busy: false };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'onclick') node.onclick = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function notice(text, isError = false) {
  const node = document.getElementById('notice');
  node.textContent = text;
  node.className = isError ? 'error' : '';
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function renderTopics(topics) {
  const body = document.querySelector('#topics tbody');
  body.replaceChildren(...topics.map((t) =>
    el('tr', { 'data-topic': t.name },
      el('td', {}, t.name), el('td', { class: 'num' }, t.partitions),
      el('td', { class: 'num', 'data-field': 'messages' }, t.messages),
      el('td', { class: 'num', 'data-field': 'rate' }, t.rate.toFixed(1)))));
  if (topics.length === 0) body.append(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'no topics')));
}

function renderGroups(groups) {
  const box = document.getElementById('groups');
  if (groups.length === 0) return box.replaceChildren(el('p', { class: 'muted' }, 'no groups'));
  box.replaceChildren(...groups.map((g) => {
    const rows = g.partitions.map((p) =>
      el('tr', { 'data-topic': p.topic, 'data-partition': p.partition },
        el('td', {}, p.topic), el('td', { class: 'num' }, p.partition), el('td', { class: 'num' }, p.committed),
        el('td', { class: 'num' }, p.end), el('td', { class: 'num' + (p.lag > 0 ? ' lagging' : ''), 'data-field': 'lag' }, p.lag)));
    return el('div', { class: 'group', 'data-group': g.name },
      el('h3', {}, g.name, ' — total lag ', el('span', { 'data-field': 'total-lag' }, g.total_lag)),
      el('table', {},
        el('thead', {}, el('tr', {}, ...['Topic', 'Partition', 'Committed', 'End', 'Lag'].map((h, i) => el('th', i ? { class: 'num' } : {}, h)))),
        el('tbody', {}, ...rows)));
  }));
}

async function change(path, body, done) {
  if (!state.token) return notice('enter the token first (printed by mqctl serve)', true);
  try {
    const result = await api(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + state.token },
      body: JSON.stringify(body),
    });
    notice(done(result));
  } catch (error) {
    notice(error.message, true);
  }
  await Promise.all([refreshOverview(), refreshDeadLetters()]);
}

function letterActions(group, selection, label) {
  const base = '/api/dead-letters/' + encodeURIComponent(group);
  return [
    el('button', { class: 'replay', onclick: () => change(base + '/replay', selection, (r) => `replayed ${r.replayed} of ${group}`) }, 'Replay' + label),
    ' ',
    el('button', { class: 'purge', onclick: () => {
      if (confirm('Purge' + label.toLowerCase() + ' of ' + group + '? This cannot be undone.')) {
        change(base + '/purge', selection, (r) => `purged ${r.purged} of ${group}`);
      }
    } }, 'Purge' + label),
  ];
}

function renderDeadLetters(data) {
  const box = document.getElementById('dead-letters');
  if (data.groups.length === 0) return box.replaceChildren(el('p', { class: 'muted', id: 'no-dead-letters' }, 'no dead letters'));
  box.replaceChildren(...data.groups.map((g) =>
    el('div', { class: 'dlq', 'data-group': g.group },
      el('h3', {}, g.group, ` — ${g.dead_letters.length} dead letters `, ...letterActions(g.group, { all: true }, ' all')),
      el('table', {},
        el('thead', {}, el('tr', {}, ...['Id', 'Topic', 'Attempts', 'Failed at', 'Error', 'Value', ''].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...g.dead_letters.map((d) =>
          el('tr', { 'data-id': d.id },
            el('td', {}, d.id), el('td', {}, d.original_topic), el('td', { class: 'num' }, d.attempts),
            el('td', {}, new Date(d.failed_at).toISOString()), el('td', {}, d.error), el('td', { class: 'value' }, d.value),
            el('td', {}, ...letterActions(g.group, { ids: [d.id] }, '')))))))));
}

async function refreshOverview() {
  try {
    const data = await api('/api/overview');
    document.getElementById('engine').textContent = data.engine + ' · ' + data.url;
    document.getElementById('status').textContent = data.error
      ? 'engine error: ' + data.error
      : 'updated ' + new Date(data.sampled_at).toLocaleTimeString();
    renderTopics(data.topics);
    renderGroups(data.groups);
  } catch (error) {
    document.getElementById('status').textContent = 'console unreachable: ' + error.message;
  }
}

async function refreshDeadLetters() {
  try {
    renderDeadLetters(await api('/api/dead-letters'));
  } catch (error) {
    notice('dead letters: ' + error.message, true);
  }
}

// One poll at a time: a slow engine never piles up requests.
async function poll(refresh, period) {
  await refresh();
  setTimeout(() => poll(refresh, period), period);
}

document.getElementById('token').value = state.token;
document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = document.getElementById('token').value.trim();
  sessionStorage.setItem('mq-token', state.token);
  notice(state.token ? 'token set for this tab' : 'token cleared');
});
poll(refreshOverview, 1000);
poll(refreshDeadLetters, 3000);
