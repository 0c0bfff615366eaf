/* global document, window, fetch, URLSearchParams */
// The reviewer page. Plain DOM on purpose: no build step, nothing loaded from elsewhere. Text from
// reviews only ever goes into the page through textContent and attributes, never as markup.
'use strict';

const $ = (id) => document.getElementById(id);

const state = {
  reviews: [],
  /** The review on show; it stays on show after it is decided, even if it leaves the queue. */
  current: null,
  index: -1,
  busy: false,
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let value = null;
  try {
    value = text ? JSON.parse(text) : null;
  } catch {
    value = null;
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/v1/login') showLogin('Your session ended; log in again.');
    throw new ApiError(res.status, (value && value.detail) || `${res.status} ${res.statusText}`);
  }
  return value;
}

// ---- time and text --------------------------------------------------------------------------

const pad = (n, w = 2) => String(n).padStart(w, '0');

function utc(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function clock(ms) {
  const s = Math.max(0, ms) / 1000;
  return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, '0')}`;
}

function rangeText(range) {
  const secs = Math.round((range.endMs - range.startMs) / 1000);
  return `${utc(range.startMs)} – ${utc(range.endMs).slice(11)} UTC (${secs} s)`;
}

function reasons(review) {
  return [...new Set(review.findings.map((f) => f.impairment))].join(', ') || 'none given';
}

function decisionText(review) {
  if (!review.decision) return 'Open: not decided yet.';
  const d = review.decision;
  const what = d.decision === 'approve' ? 'Approved' : 'Violation';
  return `${what} by ${d.reviewer} at ${utc(Date.parse(d.at))} UTC${d.note ? ` — “${d.note}”` : ''}`;
}

// ---- login ----------------------------------------------------------------------------------

function showLogin(message) {
  $('app').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('player').pause();
  $('login-name').focus();
}

async function showApp(me) {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('whoami').textContent = `${me.name} (${me.kind})`;
  await loadQueue();
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    const me = await api('POST', '/v1/login', {
      name: $('login-name').value.trim(),
      token: $('login-token').value.trim(),
    });
    $('login-token').value = '';
    if (document.activeElement) document.activeElement.blur();
    await showApp(me);
  } catch (err) {
    $('login-error').textContent = err.message;
  }
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/v1/logout').catch(() => undefined);
  showLogin('Logged out.');
});

// ---- queue ----------------------------------------------------------------------------------

async function loadQueue() {
  const status = $('status-filter').value;
  const q = new URLSearchParams(status ? { status } : {});
  const { reviews } = await api('GET', `/v1/reviews?${q}`);
  state.reviews = reviews;
  renderQueue();
  if (state.current === null && reviews.length > 0) select(0);
}

function renderQueue() {
  const list = $('queue');
  list.replaceChildren(
    ...state.reviews.map((r, i) => {
      const item = el(
        'li',
        {
          class: 'queue-item',
          'data-testid': 'queue-item',
          'data-review-id': r.id,
          'data-status': r.status,
        },
        el(
          'button',
          { type: 'button', tabindex: '-1' },
          el('strong', { text: `${r.livestreamId} / ${r.track}` }),
          el('span', { class: 'range', text: rangeText(r.range) }),
          el('span', {
            class: 'score',
            text: `lowest score ${r.lowestScore} · ${reasons(r)}`,
          }),
          el('span', { class: `status status-${r.status}`, text: r.status }),
        ),
      );
      item.addEventListener('click', () => select(i));
      if (state.current && r.id === state.current.id) {
        item.classList.add('selected');
        item.setAttribute('aria-current', 'true');
      }
      return item;
    }),
  );
  $('queue-empty').hidden = state.reviews.length > 0;
}

function select(i) {
  if (i < 0 || i >= state.reviews.length) return;
  state.index = i;
  show(state.reviews[i]);
  renderQueue();
  const item = $('queue').children[i];
  if (item) item.scrollIntoView({ block: 'nearest' });
}

/** j and k move from the review on show, or from where it was if deciding took it off the queue. */
function step(delta) {
  const at = state.current ? state.reviews.findIndex((r) => r.id === state.current.id) : -1;
  if (at >= 0) return select(at + delta);
  select(delta > 0 ? Math.max(0, state.index) : state.index - 1);
}

$('status-filter').addEventListener('change', () => loadQueue().catch(showError));
$('refresh').addEventListener('click', () => loadQueue().catch(showError));

// ---- one review -----------------------------------------------------------------------------

function show(review) {
  const changed = !state.current || state.current.id !== review.id;
  state.current = review;
  $('detail').hidden = false;
  $('detail').dataset.reviewId = review.id;
  $('detail-error').textContent = '';
  $('detail-title').textContent = `${review.livestreamId} / ${review.track}`;

  const meta = [
    ['Range', rangeText(review.range)],
    ['Lowest score', String(review.lowestScore)],
    ['Reasons', reasons(review)],
    ['Clip', review.clipKey],
    ['Status', review.status],
  ];
  $('detail-meta').replaceChildren(
    ...meta.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
  );

  if (changed) {
    const player = $('player');
    player.src = `/v1/reviews/${encodeURIComponent(review.id)}/clip`;
    player.load();
    $('note').value = '';
  }
  renderFlags(review);
  renderFindings(review);
  renderDecision(review);
}

function renderFlags(review) {
  const bar = $('flag-bar');
  const length = review.range.endMs - review.range.startMs;
  bar.replaceChildren(
    ...review.flagged.map((f) => {
      const mark = el('div', {
        class: 'flag',
        'data-testid': 'flag-marker',
        title: `flagged ${clock(f.startMs - review.range.startMs)} – ${clock(f.endMs - review.range.startMs)}`,
      });
      mark.dataset.start = String((f.startMs - review.range.startMs) / length);
      mark.dataset.end = String((f.endMs - review.range.startMs) / length);
      // CSSOM, not a style attribute: the page's policy allows no inline styles.
      mark.style.left = `${(100 * (f.startMs - review.range.startMs)) / length}%`;
      mark.style.width = `${(100 * (f.endMs - f.startMs)) / length}%`;
      return mark;
    }),
    el('div', { id: 'playhead' }),
  );
  updatePlayhead();
}

function renderFindings(review) {
  const rows = review.findings.map((f) => {
    const row = el(
      'tr',
      { 'data-testid': 'finding', title: 'Click to play from here' },
      el('td', { text: f.impairment }),
      el('td', {
        text: `${clock(f.startMs - review.range.startMs)} – ${clock(f.endMs - review.range.startMs)}`,
      }),
      el('td', { text: `${utc(f.startMs).slice(11)} – ${utc(f.endMs).slice(11)}` }),
      el('td', { text: String(f.score) }),
    );
    row.addEventListener('click', () => seek((f.startMs - review.range.startMs) / 1000));
    return row;
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '4', text: 'No findings.' })));
  $('findings').tBodies[0].replaceChildren(...rows);
}

function renderDecision(review) {
  const open = review.status === 'open';
  $('approve').disabled = !open;
  $('violation').disabled = !open;
  $('note').disabled = !open;
  if (!open && review.decision) $('note').value = review.decision.note;
  const s = $('decision-state');
  s.textContent = decisionText(review);
  s.dataset.status = review.status;
}

function seek(seconds) {
  const player = $('player');
  player.currentTime = seconds;
  player.play().catch(() => undefined);
}

async function decide(decision) {
  const review = state.current;
  if (!review || review.status !== 'open' || state.busy) return;
  state.busy = true;
  $('detail-error').textContent = '';
  try {
    const decided = await api('POST', `/v1/reviews/${encodeURIComponent(review.id)}/decision`, {
      decision,
      note: $('note').value,
    });
    show(decided);
    await loadQueue();
  } catch (err) {
    // Someone else decided it first: show what stands.
    if (err.status === 409) {
      show(await api('GET', `/v1/reviews/${encodeURIComponent(review.id)}`));
      await loadQueue();
    }
    showError(err);
  } finally {
    state.busy = false;
  }
}

function showError(err) {
  $('detail-error').textContent = err.message;
}

$('approve').addEventListener('click', () => decide('approve'));
$('violation').addEventListener('click', () => decide('violation'));

function updatePlayhead() {
  const review = state.current;
  const head = $('playhead');
  if (!review || !head) return;
  const length = (review.range.endMs - review.range.startMs) / 1000;
  head.style.left = `${Math.min(100, (100 * $('player').currentTime) / length)}%`;
}

$('player').addEventListener('timeupdate', updatePlayhead);

$('flag-bar').addEventListener('click', (event) => {
  const review = state.current;
  if (!review) return;
  const box = $('flag-bar').getBoundingClientRect();
  const fraction = (event.clientX - box.left) / box.width;
  seek((fraction * (review.range.endMs - review.range.startMs)) / 1000);
});

// ---- keys -----------------------------------------------------------------------------------

document.addEventListener('keydown', (event) => {
  if ($('app').hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  const t = event.target;
  const typing = t instanceof window.HTMLElement && t.matches('input, textarea, select');
  if (typing) {
    if (event.key === 'Escape') t.blur();
    return;
  }
  const player = $('player');
  const actions = {
    j: () => step(1),
    k: () => step(-1),
    ' ': () => (player.paused ? player.play().catch(showError) : player.pause()),
    a: () => decide('approve'),
    v: () => decide('violation'),
    n: () => $('note').focus(),
  };
  const action = actions[event.key];
  if (!action) return;
  // Also keeps space from scrolling, pressing a focused button or toggling the player twice.
  event.preventDefault();
  action();
});

// ---- start ----------------------------------------------------------------------------------

api('GET', '/v1/me')
  .then(showApp)
  .catch(() => showLogin(''));
