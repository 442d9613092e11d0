// The console page. Everything that comes from the stream is put into the page as text (textContent and text
// nodes), never parsed as HTML: messages are written by anyone who can produce to the input topic.
'use strict';

const TOKEN_KEY = 'slm-console-token';
const LIVE_ROWS = 100;
const PALETTE = ['#2f6fde', '#e0823d', '#23895a', '#c0392b', '#8e5cc9', '#1a9aa8', '#b59a1b', '#d2558f',
  '#5b6b82', '#7fb236', '#9c6b3e', '#3d4fb0'];

const state = {
  lastSeq: 0,
  labels: [],
  writable: false,
  review: [],
  serverReview: [],
  selectedId: null,
  reviewKey: '',
  adaptersKey: '',
  qualityKey: '',
  deadKey: '',
  inFlight: new Set(),
};

const $ = (id) => document.getElementById(id);

// The task this page shows (?task=<name>); without one, the server's first task.
const TASK = new URLSearchParams(location.search).get('task');

/** An API address of the task this page shows. */
function api(path) {
  if (TASK === null) return path;
  return path + (path.includes('?') ? '&' : '?') + 'task=' + encodeURIComponent(TASK);
}

/** An element with attributes and children; strings become text nodes, so they are never read as markup. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    // Through the style object: the page's content security policy refuses style attributes.
    else if (name === 'style') Object.assign(node.style, value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setText(id, text) {
  $(id).textContent = text;
}

function fmt(value, digits) {
  return value === null || value === undefined ? '–' : Number(value).toFixed(digits);
}

function time(millis) {
  return new Date(millis).toLocaleTimeString([], { hour12: false });
}

function adapterName(version) {
  return version === null || version === undefined ? 'base' : 'v' + version;
}

/** Labels that name a colour are drawn in it; the others take the palette's colours in label order. */
const NAMED_COLORS = { red: '#c0392b', blue: '#2f6fde', green: '#23895a', orange: '#e0823d', purple: '#8e5cc9',
  violet: '#8e5cc9', teal: '#1a9aa8', cyan: '#1a9aa8', yellow: '#b59a1b', pink: '#d2558f', gray: '#5b6b82',
  grey: '#5b6b82', brown: '#9c6b3e', black: '#222222', white: '#b8b8b8' };

function color(label) {
  const named = NAMED_COLORS[String(label).toLowerCase()];
  if (named) return named;
  const taken = new Set(state.labels.map((l) => NAMED_COLORS[String(l).toLowerCase()]).filter(Boolean));
  const free = PALETTE.filter((c) => !taken.has(c));
  const others = state.labels.filter((l) => !NAMED_COLORS[String(l).toLowerCase()]);
  const i = others.indexOf(label);
  return free[(i < 0 ? others.length : i) % free.length];
}

// ---------------------------------------------------------------------------------------------------------------
// Token: kept for this tab only (sessionStorage), sent as a bearer token with every write.

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

function showTokenState() {
  setText('token-state', token() ? 'token set for this tab' : 'no token: labels will be refused');
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token-input').value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  $('token-input').value = '';
  showTokenState();
});

$('token-forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showTokenState();
});

async function post(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token()) headers.Authorization = 'Bearer ' + token();
  const response = await fetch(api(path), { method: 'POST', headers, body: JSON.stringify(body) });
  let answer = {};
  try {
    answer = await response.json();
  } catch (e) {
    answer = {};
  }
  if (!response.ok) {
    const reason = answer.error || response.statusText;
    throw new Error(response.status + ': ' + reason);
  }
  return answer;
}

let toastTimer = null;
function toast(message, isError) {
  const box = $('toast');
  box.textContent = message;
  box.className = isError ? 'error' : '';
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 4000);
}

// ---------------------------------------------------------------------------------------------------------------
// Live view

function probabilitiesText(item) {
  return item.probabilities.map((p) => p.label + ' ' + p.p.toFixed(2)).join('  ');
}

function liveRow(item) {
  const row = el('tr', { 'data-id': item.id, 'data-seq': item.seq, class: item.labeledAs ? 'labeled' : null },
    el('td', { class: 'num' }, time(item.processingTime)),
    el('td', { class: 'text' }, item.text, el('span', { class: 'probs' }, probabilitiesText(item))),
    el('td', { class: 'label' }, el('span', { class: 'swatch', style: { backgroundColor: color(item.label) } }), ' ',
      item.label),
    el('td', { class: 'num' }, fmt(item.top, 2)),
    el('td', {}, adapterName(item.adapterVersion)),
    el('td', { class: 'num' }, item.latencyMs));
  if (item.truncated) row.title = 'the text was truncated before classification';
  return row;
}

function addLive(items, fresh) {
  const body = $('live-rows');
  if (fresh) {
    body.replaceChildren();
    state.lastSeq = 0;
  }
  for (const item of items) {
    if (item.seq <= state.lastSeq) continue;
    state.lastSeq = item.seq;
    body.prepend(liveRow(item));
  }
  while (body.children.length > LIVE_ROWS) body.lastElementChild.remove();
  $('live-empty').hidden = body.children.length > 0;
}

function markLabeled(id) {
  for (const row of $('live-rows').querySelectorAll('tr')) {
    if (row.dataset.id === id) row.classList.add('labeled');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Figures and the per-second chart

function showStats(view) {
  const s = view.stats;
  setText('tile-throughput', fmt(s.throughput, 1));
  setText('tile-p50', s.latencyP50 === null ? '–' : String(s.latencyP50));
  setText('tile-p99', s.latencyP99 === null ? '–' : String(s.latencyP99));
  setText('tile-dlq', fmt(s.deadLetterRate, 1));
  setText('tile-total', String(s.classified));
  setText('tile-abstained', String(s.abstained));
  const f = view.feedback;
  setText('tile-pending', f.pending === null ? '–' : String(f.pending));
  const serving = view.servingVersion;
  const known = view.servingFrom !== 'no result yet';
  setText('tile-pending-name', pendingName(f, view.topics.feedback, serving, known) + ' (' + f.sentHere + ' from here)');
  setText('serving', 'serving: ' + (known ? adapterName(serving) : '–'));
  $('serving').title = 'the adapter version that serves now (from ' + view.servingFrom + ')';
}

/**
 * What the pending-labels tile counts from. The count starts at the newest version, but that version may not be
 * the one that serves (rejected, rolled back, waiting behind a hold): then the name says which one serves, so
 * "since v12" is never read as "v12 serves".
 */
function pendingName(feedback, feedbackTopic, serving, servingKnown) {
  if (feedback.sinceVersion === null || feedback.sinceVersion === undefined) {
    return 'labels on ' + feedbackTopic;
  }
  const since = 'labels since v' + feedback.sinceVersion;
  if (!servingKnown || serving === feedback.sinceVersion) return since + ', which serves';
  const status = feedback.sinceStatus ? feedback.sinceStatus.toLowerCase().replace('_', ' ') : 'not serving';
  return since + ' (' + status + '); ' + adapterName(serving) + ' serves';
}

function drawTimeline(view) {
  const canvas = $('timeline');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const rows = view.timeline.seconds;
  const labels = view.labels;
  const totals = rows.map((r) => r.reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const left = 28;
  const bottom = height - 14;
  const slot = (width - left) / rows.length;
  g.fillStyle = '#6b7385';
  g.font = '11px system-ui, sans-serif';
  g.fillText(String(max), 2, 10);
  g.fillText('0', 2, bottom);
  g.fillText('-60 s', left, height - 2);
  g.fillText('now', width - 22, height - 2);
  g.strokeStyle = '#e2e5eb';
  g.beginPath();
  g.moveTo(left, bottom + 0.5);
  g.lineTo(width, bottom + 0.5);
  g.stroke();
  rows.forEach((counts, i) => {
    let y = bottom;
    counts.forEach((n, j) => {
      if (!n) return;
      const h = (n / max) * (bottom - 4);
      g.fillStyle = color(labels[j]);
      g.fillRect(left + i * slot + 1, y - h, Math.max(1, slot - 2), h);
      y -= h;
    });
  });
  const legend = $('legend');
  const abstained = view.stats.abstainedPerLabel || {};
  const key = labels.join('\u0000') + JSON.stringify(view.stats.perLabel) + JSON.stringify(abstained);
  if (legend.dataset.key !== key) {
    legend.dataset.key = key;
    legend.replaceChildren(...labels.map((l) => el('li', { 'data-label': l },
      el('span', { class: 'swatch', style: { backgroundColor: color(l) } }), l + ' ' + (view.stats.perLabel[l] || 0),
      abstained[l] ? el('span', { class: 'muted abstained-count' }, ' (' + abstained[l] + ' abstained)') : '')));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Review queue

function keyFor(index) {
  if (index < 9) return String(index + 1);
  if (index === 9) return '0';
  return null;
}

function reviewItem(item) {
  const choices = item.probabilities.map((p, i) => {
    const key = keyFor(i);
    return el('button', {
      type: 'button',
      class: p.label === item.label ? 'predicted' : null,
      'data-label': p.label,
      title: 'p = ' + p.p.toFixed(3) + (key ? ' (key ' + key + ')' : ''),
      onclick: (event) => { event.stopPropagation(); sendLabel(item, p.label); },
    }, key ? el('kbd', {}, key) : null, p.label);
  });
  const confidence = (item.abstained ? 'set aside for review: ' : '') + 'predicted ' + item.label + ', p ' + item.top.toFixed(2)
    + (item.labelMass === null ? '' : ', label mass ' + item.labelMass.toFixed(2))
    + ', adapter ' + adapterName(item.adapterVersion)
    // Absent in a view from an older server: counted as current.
    + (item.current === false ? ' (no longer serves)' : '');
  return el('li', {
    'data-id': item.id,
    class: [item.id === state.selectedId ? 'selected' : '', item.abstained ? 'abstained' : '',
      item.current === false ? 'stale' : ''].join(' ').trim() || null,
    onclick: () => select(item.id),
  }, el('span', { class: 'text' }, item.text), el('span', { class: 'meta' }, confidence),
  el('div', { class: 'choices' }, choices));
}

function showReview(items) {
  const pending = items.filter((i) => !state.inFlight.has(i.id));
  state.review = pending;
  if (!pending.some((i) => i.id === state.selectedId)) {
    state.selectedId = pending.length ? pending[0].id : null;
  }
  const key = pending.map((i) => i.id + (i.current === false ? '~' : '')).join('\u0000') + '|' + state.selectedId;
  if (key === state.reviewKey) return;
  state.reviewKey = key;
  $('review-list').replaceChildren(...pending.map(reviewItem));
  $('review-empty').hidden = pending.length > 0;
}

function select(id) {
  state.selectedId = id;
  state.reviewKey = '';
  showReview(state.review);
  const node = [...$('review-list').children].find((li) => li.dataset.id === id);
  if (node) node.scrollIntoView({ block: 'nearest' });
}

async function sendLabel(item, label) {
  if (!state.writable) {
    toast('Read-only console: the server has no token configured', true);
    return;
  }
  if (state.inFlight.has(item.id)) return;
  state.inFlight.add(item.id);
  try {
    const answer = await post('api/labels', { id: item.id, label });
    toast('Label "' + label + '" sent to ' + answer.topic + ' (offset ' + answer.offset + ')');
    markLabeled(item.id);
    state.reviewKey = '';
    showReview(state.review.filter((i) => i.id !== item.id));
  } catch (e) {
    // A view that arrived while the label was on its way hid the message; it is waiting for review again.
    state.inFlight.delete(item.id);
    showReview(state.serverReview);
    toast('Label refused: ' + e.message, true);
  }
}

document.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
  const index = state.review.findIndex((i) => i.id === state.selectedId);
  if (event.key === 'ArrowDown' || event.key === 'j') {
    if (index + 1 < state.review.length) select(state.review[index + 1].id);
    event.preventDefault();
  } else if (event.key === 'ArrowUp' || event.key === 'k') {
    if (index > 0) select(state.review[index - 1].id);
    event.preventDefault();
  } else if (/^[0-9]$/.test(event.key) && index >= 0) {
    const item = state.review[index];
    const choice = event.key === '0' ? 9 : Number(event.key) - 1;
    if (choice < item.probabilities.length) {
      sendLabel(item, item.probabilities[choice].label);
      event.preventDefault();
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Adapters

async function command(type, version) {
  const what = type.toLowerCase() + (version === null ? '' : ' v' + version);
  try {
    await post('api/adapters', { command: type, version });
    toast('Sent ' + what);
  } catch (e) {
    toast('Could not ' + what + ': ' + e.message, true);
  }
}

$('rollback').addEventListener('click', () => command('ROLLBACK', null));
$('unpin').addEventListener('click', () => command('UNPIN', null));

/** The few figures people decide on, then the version's message and every metric behind a click. */
function metricsCell(metrics, message) {
  const f = (k) => (metrics[k] === undefined ? null : Number(metrics[k]));
  const parts = [];
  if (f('macro_f1') !== null) {
    parts.push('macro-F1 ' + f('macro_f1').toFixed(3)
      + (f('serving_macro_f1') !== null ? ' (serving then ' + f('serving_macro_f1').toFixed(3) + ')' : ''));
  }
  if (f('accuracy') !== null) parts.push('accuracy ' + f('accuracy').toFixed(3));
  if (f('train_examples') !== null) {
    parts.push(f('train_examples').toFixed(0) + ' + ' + (f('validation_examples') || 0).toFixed(0) + ' examples');
  }
  const all = Object.entries(metrics).map(([k, v]) => k + ' ' + (Number.isInteger(v) ? v : Number(v).toFixed(3)));
  const more = [];
  if (message) more.push(el('div', { class: 'message' }, message));
  if (all.length) more.push(el('div', { class: 'all-metrics' }, all.join(', ')));
  return el('td', { class: 'metrics' }, parts.join(' · '),
    more.length ? el('details', {}, el('summary', {}, 'more'), ...more) : '');
}

function statusText(v) {
  return (v.serving ? 'serving' : v.status.toLowerCase().replace('_', ' ')) + (v.pinned ? ', pinned' : '');
}

function showAdapters(adapters) {
  const key = JSON.stringify(adapters);
  if (key === state.adaptersKey) return;
  state.adaptersKey = key;
  const available = adapters.available && !adapters.error;
  $('adapters-actions').hidden = !available;
  $('adapters-table').hidden = !available;
  $('adapters-none').hidden = available;
  setText('adapters-none', adapters.available ? 'adapter control failed: ' + adapters.error : 'no adapter control');
  if (!available) return;
  // After a rollback the same UNPIN resumes following new versions: the button says which it does now.
  const held = adapters.hold !== null && adapters.hold !== undefined;
  $('unpin').disabled = adapters.pinned === null && !held;
  setText('unpin', held && adapters.pinned === null ? 'Resume' : 'Unpin');
  $('adapters-hold').hidden = !held;
  setText('adapters-hold', held ? adapters.hold : '');
  const serving = adapters.serving;
  $('adapter-rows').replaceChildren(...adapters.versions.map((v) => {
    const usable = v.status !== 'REJECTED' && v.status !== 'ERROR';
    const buttons = [];
    if (usable && !v.pinned) {
      buttons.push(el('button', { type: 'button', onclick: () => command('PIN', v.version) }, 'Pin'));
    }
    if (usable && serving !== null && v.version < serving) {
      buttons.push(el('button', { type: 'button', onclick: () => command('ROLLBACK', v.version) }, 'Roll back to'));
    }
    const status = statusText(v);
    return el('tr', { 'data-version': v.version },
      el('td', {}, 'v' + v.version),
      el('td', { class: 'status-' + (v.serving ? 'ACTIVE' : v.status) }, status),
      metricsCell(v.metrics, v.message),
      el('td', {}, v.created === null ? '' : new Date(v.created).toLocaleString()),
      el('td', {}, buttons));
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Quality: the charts the server draws from each version's published evaluation

const PLOTS = ['reliability', 'coverage', 'confusion'];

function qualityBlock(role, version, versions) {
  const v = versions.find((x) => x.version === version);
  const e = v ? v.evaluation : null;
  let title = role + ': v' + version + (v ? ' (' + statusText(v) + ')' : '');
  if (e) {
    title += ', ' + e.examples + ' validation examples, '
      + (e.temperature === null ? 'no temperature' : 'T = ' + e.temperature.toFixed(2));
  }
  // The version's creation time in the address: a version number reused after a reset is drawn afresh.
  const stamp = v && v.created !== null ? '?created=' + v.created : '';
  return el('div', { class: 'quality-version', 'data-role': role.toLowerCase(), 'data-version': version },
    el('h3', {}, title),
    el('div', { class: 'plots' }, ...PLOTS.map((kind) => {
      const src = api('api/plots/' + version + '/' + kind + '.svg' + stamp);
      return el('a', { href: src, target: '_blank', rel: 'noopener', title: 'open ' + kind + ' of v' + version },
        el('img', { class: 'plot', src, alt: kind + ' of v' + version, 'data-kind': kind }));
    })));
}

function showQuality(view) {
  const quality = view.quality || { serving: null, candidate: null };
  const versions = (view.adapters && view.adapters.versions) || [];
  const key = JSON.stringify([quality, view.adapters && view.adapters.serving,
    versions.map((v) => [v.version, v.status, v.serving, v.pinned, v.created])]);
  if (key === state.qualityKey) return;
  state.qualityKey = key;
  const blocks = [];
  if (quality.serving !== null) blocks.push(qualityBlock('Serving', quality.serving, versions));
  if (quality.candidate !== null && quality.candidate !== quality.serving) {
    // While the base model serves, every version is newer than it: the newest is shown, whatever became of it.
    const baseServes = !view.adapters || view.adapters.serving === null || view.adapters.serving === undefined;
    blocks.push(qualityBlock(baseServes ? 'Newest' : 'Candidate', quality.candidate, versions));
  }
  $('quality-versions').replaceChildren(...blocks);
  $('quality-empty').hidden = blocks.length > 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Dead letters

function showDeadLetters(view) {
  const key = JSON.stringify([view.deadLetterList.map((d) => d.receivedAt), view.stats.deadLettersByReason]);
  if (key === state.deadKey) return;
  state.deadKey = key;
  $('dlq-reasons').replaceChildren(...Object.entries(view.stats.deadLettersByReason)
    .map(([reason, n]) => el('li', {}, reason + ': ' + n)));
  $('dlq-list').replaceChildren(...view.deadLetterList.map((d) => el('li', {},
    el('span', { class: 'muted' }, time(d.receivedAt) + ' '), el('span', { class: 'reason' }, d.reason),
    d.message, el('span', { class: 'value' }, d.value))));
  $('dlq-empty').hidden = view.deadLetterList.length > 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Updates from the server

/** With several tasks, the selector: choosing one loads the page of that task. */
function showTasks(view) {
  const select = $('task-select');
  if (!view.tasks || view.tasks.length < 2) return;
  if (select.options.length === 0) {
    for (const name of view.tasks) select.append(el('option', { value: name }, name));
    select.addEventListener('change', () => {
      location.search = '?task=' + encodeURIComponent(select.value);
    });
  }
  select.value = view.task;
  $('task-picker').hidden = false;
}

function apply(view, fresh) {
  if (fresh) {
    showTasks(view);
    state.writable = view.writable;
    $('token-form').hidden = !view.writable;
    $('read-only').hidden = view.writable;
    setText('feedback-topic', view.topics.feedback);
    setText('classified-topic', view.topics.classified);
    setText('dlq-topic', view.topics.deadLetters);
    document.body.classList.toggle('read-only', !view.writable);
  }
  if (view.labels.length) state.labels = view.labels;
  addLive(view.recent, fresh);
  showStats(view);
  drawTimeline(view);
  state.serverReview = view.review;
  showReview(view.review);
  showAdapters(view.adapters);
  showQuality(view);
  showDeadLetters(view);
  for (const button of document.querySelectorAll('.choices button, #adapters-actions button, #adapter-rows button')) {
    if (!state.writable) {
      button.disabled = true;
      button.title = 'read-only console';
    }
  }
}

function connect() {
  const events = new EventSource(api('api/events'));
  events.addEventListener('snapshot', (e) => apply(JSON.parse(e.data), true));
  events.addEventListener('update', (e) => apply(JSON.parse(e.data), false));
  events.addEventListener('open', () => {
    setText('connection', 'live');
    $('connection').className = 'badge on';
  });
  events.addEventListener('error', () => {
    setText('connection', 'reconnecting…');
    $('connection').className = 'badge off';
  });
}

showTokenState();
connect();
